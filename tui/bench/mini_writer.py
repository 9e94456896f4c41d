"""Writes a long mini-swe-agent 2.x trajectory with mini-swe-agent's own code (run by
``trajscope bench inspector`` with the python of a scratch venv that has mini-swe-agent;
it imports nothing of trajscope).

mini's DefaultAgent, LitellmModel (tool calls) and LocalEnvironment run ``STEPS`` real
commands against the simulated model server at URL. Two departures from a plain run keep
a 5,000-step trajectory writable in minutes, and neither changes the file's format: the
model is sent only the last few messages (the server's answer does not depend on them, and
resending all of them is quadratic), and the file is saved once at the end, not after
every step.

    python mini_writer.py URL OUT.traj.json STEPS
"""

import os
import sys
from pathlib import Path


def main() -> None:
    """Imports of mini-swe-agent happen here: this file belongs to the benchmark's scratch venv."""
    os.environ.setdefault("MSWEA_COST_TRACKING", "ignore_errors")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import minisweagent
    import yaml
    from minisweagent.agents.default import DefaultAgent
    from minisweagent.environments.local import LocalEnvironment
    from minisweagent.models.litellm_model import LitellmModel

    class RecentMessagesModel(LitellmModel):
        def _prepare_messages_for_api(self, messages):
            return super()._prepare_messages_for_api(messages[:2] + messages[2:][-4:])

    url, out, steps = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    config = yaml.safe_load((Path(minisweagent.__file__).parent / "config" / "mini.yaml").read_text())
    model = RecentMessagesModel(
        model_name="openai/simulated", model_kwargs={"api_base": url, "api_key": "none"}, cost_tracking="ignore_errors"
    )
    repo = out.parent / "repo"
    repo.mkdir(parents=True, exist_ok=True)
    (repo / "notes.txt").write_text("".join(f"line {i}: the quick brown fox\n" for i in range(600)))
    env = LocalEnvironment(cwd=str(repo), timeout=30)
    agent = DefaultAgent(model, env, **(config["agent"] | {"output_path": None, "step_limit": steps, "cost_limit": 0}))
    agent.run("Read notes.txt line by line and report anything unusual.")
    agent.save(out)


if __name__ == "__main__":
    main()
