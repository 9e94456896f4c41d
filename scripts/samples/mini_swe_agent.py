"""Real mini-swe-agent 2.x trajectories for tests/fixtures/real (run by hand, not by the tests).

mini-swe-agent's own DefaultAgent, LitellmModel (tool calls) and LitellmTextbasedModel
(fenced commands) run against trajscope's simulated model server on 127.0.0.1, in
mini's LocalEnvironment on a throw-away git repository. mini-swe-agent is installed in
a scratch venv, never in trajscope's:

    python3 -m venv /tmp/msa && /tmp/msa/bin/pip install "mini-swe-agent>=2"
    .venv/bin/python scripts/samples/mini_swe_agent.py /tmp/msa/bin/python tests/fixtures/real/mini-swe-agent [NAME...]

NAMEs (file names below) write only those samples.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from trajscope.engine.policy.simulated import ModelServer  # noqa: E402

FIX = "sed -i 's/return a - b/return a + b/' calc.py"
STEPS = [
    "cat calc.py",
    "python -c 'import calc; print(calc.add(2, 3))'",
    FIX,
    "python -c 'import calc; assert calc.add(2, 3) == 5' && echo ok",
    "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && git diff",
]
# mini.yaml's own workflow: the marker alone, so the submission is empty (the change stays in the
# working tree) and the command has no output message of its own.
BARE = [*STEPS[:-1], "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"]
AGENT = textwrap.dedent("""
    import os, sys, yaml
    from pathlib import Path
    os.environ["MSWEA_COST_TRACKING"] = "ignore_errors"
    import minisweagent
    from minisweagent.agents.default import DefaultAgent
    from minisweagent.environments.local import LocalEnvironment
    url, out, mode, repo = sys.argv[1:5]
    name = "mini_textbased.yaml" if mode == "text" else "mini.yaml"
    config = yaml.safe_load((Path(minisweagent.__file__).parent / "config" / name).read_text())
    if mode == "text":
        from minisweagent.models.litellm_textbased_model import LitellmTextbasedModel as Model
    else:
        from minisweagent.models.litellm_model import LitellmModel as Model
    model = Model(model_name="openai/simulated", model_kwargs={"api_base": url, "api_key": "none"},
                  cost_tracking="ignore_errors", **{k: v for k, v in config.get("model", {}).items()
                                                    if k not in ("model_name", "model_kwargs")})
    env = LocalEnvironment(cwd=repo, timeout=30)
    agent = DefaultAgent(model, env, **(config["agent"] | {"output_path": Path(out), "step_limit": int(sys.argv[5])}))
    agent.run("calc.add(2, 3) returns -1 instead of 5. Fix calc.add so that it adds.")
""")


def script(mode: str, steps: list[str]):
    def answer(request: dict, index: int) -> dict:
        turn = sum(1 for m in request["messages"] if m.get("role") == "assistant")
        command = steps[min(turn, len(steps) - 1)]
        thought = f"Step {turn + 1}: I run `{command.split()[0]}` next."
        if mode == "text":
            return {"text": f"THOUGHT: {thought}\n\n```mswea_bash_command\n{command}\n```"}
        return {"tool": "bash", "args": {"command": command}, "thought": thought}

    return answer


def main() -> None:
    python, out = sys.argv[1], Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    runs = [
        ("toolcall", "toolcall_submitted.traj.json", STEPS, 0),
        ("text", "textbased_submitted.traj.json", STEPS, 0),
        ("toolcall", "toolcall_step_limit.traj.json", STEPS[:2] * 3, 3),
        ("toolcall", "toolcall_bare_submit.traj.json", BARE, 0),
    ]
    wanted = set(sys.argv[3:])
    for mode, name, steps, limit in runs:
        if wanted and name not in wanted:
            continue
        with tempfile.TemporaryDirectory() as repo, ModelServer(script(mode, steps)) as server:
            Path(repo, "calc.py").write_text("def add(a, b):\n    return a - b\n")
            subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
            subprocess.run(
                ["git", "-c", "user.email=s@x", "-c", "user.name=s", "commit", "-qam", "init", "--allow-empty"],
                cwd=repo,
                check=True,
            )
            subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
            subprocess.run(
                ["git", "-c", "user.email=s@x", "-c", "user.name=s", "commit", "-qm", "calc"], cwd=repo, check=True
            )
            subprocess.run(
                [python, "-c", AGENT, server.url, str(out / name), mode, repo, str(limit)], check=True, timeout=300
            )
        data = json.loads((out / name).read_text())
        print(name, data["info"]["exit_status"], len(data["messages"]), "messages")


if __name__ == "__main__":
    main()
