"""`trajscope search` as a user runs it: headless JSON, and a search killed mid-run then resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from trajscope.engine.events import read_events
from trajscope.engine.tasks import load_task_dir
from trajscope.engine.tree import Tree
from tests.conftest import DEMO_TASKS
from tests.support import trajscope
from tests.fake_llm import FakeLLM, Solver

pytestmark = pytest.mark.subprocess

TASK_DIR = next(p for p in DEMO_TASKS if p.name == "semver-prerelease")


def _args(server, out, *extra):
    return [
        "search",
        str(TASK_DIR),
        "--model",
        "openai/fake",
        "--api-base",
        server.url,
        "--sandbox",
        "local",
        "--prm",
        "heuristic",
        "--headless",
        "--out",
        str(out),
        *extra,
    ]


def test_headless_search_prints_progress_and_a_json_result(tmp_path):
    out = tmp_path / "search.jsonl"
    # --select prm: the JSON result is this test's subject, not how its patch was chosen (the
    # agent's checks, the default with a model, would re-run every candidate's tests)
    with FakeLLM(Solver(load_task_dir(TASK_DIR), wrong_rate=0.5, seed=5)) as server:
        proc = trajscope(*_args(server, out, "--strategy", "dars", "--max-nodes", "14", "--select", "prm"), timeout=300)
    assert proc.returncode in (0, 1), proc.stderr
    result = json.loads(proc.stdout)
    tree = Tree.fold(read_events(out))
    assert result["nodes"] == len(tree) and result["submissions"] >= 1 and result["selected"] in tree.nodes
    assert result["resolved"] == bool(tree.nodes[result["selected"]].verified["resolved"])
    assert "finished:" in proc.stderr and "nodes" in proc.stderr
    # the last progress line counts what the search ended with
    last = [line for line in proc.stderr.splitlines() if "submissions" in line][-1]
    assert f"submissions {tree.stats()['submissions']} " in last + " ", last
    assert tree.config["strategy"] == "dars" and tree.config["scorers"] == ["heuristic"]


def test_a_killed_search_resumes_from_its_log_without_losing_a_node(tmp_path):
    out = tmp_path / "search.jsonl"
    task = load_task_dir(TASK_DIR)
    # --select prm: which patch is chosen is not this test's subject, and the agent's checks (the
    # default with a model) would run every candidate's tests again, before and after the kill
    settings = ("--strategy", "sample", "--samples", "2", "--max-nodes", "30", "--select", "prm")
    with FakeLLM(Solver(task, wrong_rate=0.5, seed=6), delay_s=0.3) as server:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "trajscope.tui.cli",
                *_args(server, out, *settings),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if out.exists() and sum(e["type"] == "node_executed" for e in read_events(out)) >= 5:
                break
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        before = Tree.fold(read_events(out))
        assert before.finished is None and len(before) >= 5
        again = trajscope(*_args(server, out, *settings, "--resume"), timeout=300)
    assert again.returncode in (0, 1), again.stderr
    after = Tree.fold(read_events(out))
    for node_id, node in before.nodes.items():
        assert after.nodes[node_id].action == node.action
        assert after.nodes[node_id].observation == node.observation or node.exit_code is None
    assert len(after) > len(before) and after.finished
    assert after.stats()["submissions"] >= 2 - sum(1 for n in after.nodes.values() if n.status == "failed")
    assert any(c.get("name") == "resume_search" for c in after.commands)


def test_search_refuses_an_existing_log_without_resume_and_bad_scorers(tmp_path):
    out = tmp_path / "x.jsonl"
    out.write_text('{"type": "run_started", "ts": 0, "run": "x"}\n')
    proc = trajscope("search", TASK_DIR, "--headless", "--out", out)
    assert proc.returncode == 2 and "already exists" in proc.stderr
    proc = trajscope("search", TASK_DIR, "--headless", "--prm", "oracle", "--out", tmp_path / "y.jsonl")
    assert proc.returncode == 2 and proc.stderr.startswith("trajscope: unknown scorer 'oracle'")
