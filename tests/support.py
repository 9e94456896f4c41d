"""Helpers several test modules share (no test module imports another)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from trajscope.engine.policy.llm import LLMPolicy
from trajscope.engine.prm.heuristic import HeuristicScorer
from trajscope.engine.search.budget import Budget
from trajscope.engine.search.config import SearchConfig
from trajscope.engine.session import Session
from trajscope.engine.tasks import load_task_dir
from tests.conftest import DEMO_TASKS, REAL

SEMVER = load_task_dir(next(p for p in DEMO_TASKS if p.name == "semver-prerelease"))  # its wrong fix passes the example


def trajscope(*args, timeout=60, env=None):
    return subprocess.run(
        [sys.executable, "-m", "trajscope.tui.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


OPENHANDS_NOT_STEPS = {"system", "recall", "change_agent_state", "condensation"}


def openhands_counts(data) -> dict:
    """An OpenHands run's counts: every action event of the agent is a step (the first message of
    a file without sources is the task); a git patch in the test result is a submission."""
    history = data if isinstance(data, list) else data.get("history") or data.get("trajectory") or []
    events = [e for item in history for e in (item if isinstance(item, list) else [item])]
    actions = [
        e
        for e in events
        if "action" in e
        and "observation" not in e
        and e["action"] not in OPENHANDS_NOT_STEPS
        and e.get("source") != "user"
    ]
    if actions and "source" not in actions[0] and actions[0]["action"] == "message":
        actions = actions[1:]
    patch = (data.get("test_result") or {}).get("git_patch") or data.get("git_patch") if isinstance(data, dict) else ""
    return {"nodes": len(actions), "branch_points": 0, "submissions": int(bool((patch or "").strip()))}


def moatless_counts(data) -> dict:
    """A moatless tree's counts: one step per action step of every node below the root; a node with
    two or more children branches; a terminal Finish that is not a duplicate submits."""
    if isinstance(data, list):
        nodes = data
        children = {n["node_id"]: sum(1 for m in data if m["parent_id"] == n["node_id"]) for n in data}
    else:
        nodes, stack = [], [data["root"]]
        while stack:
            node = stack.pop()
            nodes.append(node)
            stack.extend(node["children"])
        children = {n["node_id"]: len(n["children"]) for n in nodes}
    below_root = [n for n in nodes if n.get("parent_id", 0) is not None and n["node_id"] != 0]
    return {
        "nodes": sum(len(n["action_steps"]) for n in below_root),
        "branch_points": sum(1 for c in children.values() if c > 1),
        "submissions": sum(
            1
            for n in below_root
            if n["terminal"]
            and not n.get("is_duplicate")
            and n["action_steps"][-1]["action"]["action_args_class"].endswith("FinishArgs")
        ),
    }


def independent_counts(path, line: int | None = None) -> dict:
    """Counts taken straight from the raw file (or one line of a multi-run file), without the importers."""
    if line is not None:
        return openhands_counts(json.loads(path.read_text().splitlines()[line]))
    data = json.loads(path.read_text())
    if "openhands" in path.parts:
        return openhands_counts(data)
    if isinstance(data, dict) and "transitions" in data:  # MoatlessTools' older layout: one action, one step
        return {
            "nodes": sum(len(t.get("actions") or []) for t in data["transitions"]),
            "branch_points": 0,
            "submissions": int(bool(data["info"].get("submission"))),
        }
    if "moatless" in path.parts:
        return moatless_counts(data)
    if path.suffix == ".root":
        turns = branch_points = submissions = 0

        def walk(message, turn_children):
            nonlocal turns, branch_points, submissions
            kids = message.get("children") or []
            if message["role"] == "assistant":
                turns += 1
                below = sum(1 for o in kids for g in o.get("children") or [] if g["role"] == "assistant")
                branch_points += below > 1
                submissions += bool(message.get("is_terminal") and message["action"].strip() == "submit")
            for kid in kids:
                walk(kid, None)

        walk(data["root"], None)
        return {"nodes": turns, "branch_points": branch_points, "submissions": submissions}
    if isinstance(data, list) and data and "run_id" in data[0]:
        return {"nodes": len(data), "branch_points": 1, "submissions": len(data)}
    if isinstance(data, list):  # mini-swe-agent bare list
        assistant = [m for m in data if m["role"] == "assistant"]
        submitted = "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT" in assistant[-1]["content"]
        return {"nodes": len(assistant), "branch_points": 0, "submissions": int(submitted)}
    if isinstance(data, dict) and str(data.get("trajectory_format", "")).startswith("mini-swe-agent"):
        assistant = [m for m in data["messages"] if m["role"] == "assistant"]  # 2.x: commands in extra.actions
        return {
            "nodes": sum(len(m["extra"]["actions"]) for m in assistant),
            "branch_points": 0,
            "submissions": int(data["info"]["exit_status"] == "Submitted"),
        }
    if "trajectory" in data:
        return {
            "nodes": len(data["trajectory"]),
            "branch_points": 0,
            "submissions": int(bool(data["info"].get("submission"))),
        }
    actions = [m for m in data["history"] if m.get("role") == "assistant" and "action" in m]
    return {"nodes": len(actions), "branch_points": 0, "submissions": int(actions[-1]["action"].strip() == "submit")}


def search(tmp_path, strategy, server, nodes=40, wait=True, name="run", **config):
    session = Session(
        SEMVER,
        LLMPolicy("openai/fake", api_base=server.url),
        tmp_path / f"{name}.jsonl",
        scorers=[HeuristicScorer()],
        budget=Budget(nodes=nodes),
        config=SearchConfig(strategy=strategy, **config),
        seed=1,
    )
    session.start()
    if wait:
        session.wait(120)
        session.close()
    return session


def runs_folder(root: Path) -> Path:
    """A folder as people have them: an OpenHands evaluation output, mini-swe-agent batch output
    (one folder per instance), SWE-agent and DARS files, a damaged file and the harness's reports."""
    shutil.copy(REAL / "openhands" / "multi_swe_bench.output.jsonl", root / "output.jsonl")
    for name in ("toolcall_submitted", "textbased_submitted", "toolcall_step_limit"):
        (root / "mini" / name).mkdir(parents=True)
        shutil.copy(REAL / "mini-swe-agent" / f"{name}.traj.json", root / "mini" / name / f"{name}.traj.json")
    shutil.copy(REAL / "swe-agent" / "function_calling_simple.traj", root / "simple.traj")
    shutil.copy(REAL / "dars" / "edit.prev.root", root / "edit.prev.root")
    (root / "broken.traj").write_text('{"trajectory": [{"action": "ls", "observ')
    report = root / "logs" / "run_evaluation" / "r1" / "model" / "ponylang__ponyc-4595"
    report.mkdir(parents=True)
    (report / "report.json").write_text(json.dumps({"ponylang__ponyc-4595": {"resolved": True}}))
    (root / "model.r1.json").write_text(
        json.dumps({"resolved_ids": [], "unresolved_ids": ["ponylang__ponyc-4593", "toolcall_submitted"]})
    )
    return root


def wait_until(condition, timeout: float = 30.0, every: float = 0.1) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return False


def served_viewers(session: int) -> int:
    """The viewer processes a ``trajscope serve`` started in its own session ``session`` (its pid,
    started with start_new_session): the Python process, not the shell textual-serve starts it
    through, whatever other servers the other test worker runs."""
    count = 0
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0") if entry.name.isdigit() else []
            if not (
                argv and b"python" in Path(argv[0].decode()).name.encode() and b"trajscope.tui.serve.attach" in argv
            ):
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        count += fields[0] != "Z" and int(fields[3]) == session  # state, session id
    return count
