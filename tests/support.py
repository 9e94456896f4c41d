"""Helpers several test modules share (no test module imports another)."""

from __future__ import annotations

import json
import subprocess
import sys

from engine.policy.llm import LLMPolicy
from engine.prm.heuristic import HeuristicScorer
from engine.search.budget import Budget
from engine.session import SearchConfig, Session
from engine.tasks import load_task_dir
from tests.conftest import DEMO_TASKS

SEMVER = load_task_dir(next(p for p in DEMO_TASKS if p.name == "semver-prerelease"))  # its wrong fix passes the example


def trajscope(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "tui.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def independent_counts(path) -> dict:
    """Counts taken straight from the raw file, without the importers."""
    data = json.loads(path.read_text())
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
    if "trajectory" in data:
        return {"nodes": len(data["trajectory"]), "branch_points": 0,
                "submissions": int(bool(data["info"].get("submission")))}
    actions = [m for m in data["history"] if m.get("role") == "assistant" and "action" in m]
    return {"nodes": len(actions), "branch_points": 0,
            "submissions": int(actions[-1]["action"].strip() == "submit")}


def search(tmp_path, strategy, server, nodes=40, wait=True, name="run", **config):
    session = Session(SEMVER, LLMPolicy("openai/fake", api_base=server.url), tmp_path / f"{name}.jsonl",
                      scorers=[HeuristicScorer()], budget=Budget(nodes=nodes),
                      config=SearchConfig(strategy=strategy, **config), seed=1)
    session.start()
    if wait:
        session.wait(120)
        session.close()
    return session
