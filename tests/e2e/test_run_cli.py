"""`trajscope run`: a linear rollout through litellm to the fake server, as a user runs it."""

from __future__ import annotations

import json
import re
import os

import pytest

from trajscope.engine.events import read_events
from trajscope.engine.tasks import load_task_dir
from trajscope.engine.tree import Tree
from tests.conftest import DEMO_TASKS, docker_or_skip
from tests.support import trajscope
from tests.fake_llm import FakeLLM, Solver

pytestmark = pytest.mark.subprocess

THREE = DEMO_TASKS[:3]


def _check_log(path, task, result):
    events = read_events(path)
    tree = Tree.fold(events)
    nodes = [n for n in tree.nodes.values() if n.id != "root"]
    assert len(nodes) == result["steps"] and all(n.action and n.exit_code is not None for n in nodes)
    assert sum(n.tokens_in for n in nodes) == result["tokens_in"] > 0
    submitted = [e for e in events if e["type"] == "submitted"]
    assert submitted and submitted[0]["verified"]["resolved"] is True
    assert events[0]["type"] == "run_started" and events[0]["task"]["instance_id"] == task.instance_id
    assert events[-1]["type"] == "run_finished" and events[-1]["reason"] == "submitted"


def _run(task_dir, tmp_path, sandbox, mode="auto"):
    task = load_task_dir(task_dir)
    out = tmp_path / f"{task_dir.name}.jsonl"
    with FakeLLM(Solver(task, mode="text" if mode == "text" else "tools")) as server:
        proc = trajscope(
            "run",
            task_dir,
            "--model",
            "openai/fake-agent",
            "--api-base",
            server.url,
            "--tool-mode",
            mode,
            "--sandbox",
            sandbox,
            "--headless",
            "--out",
            out,
            timeout=180,
        )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["resolved"] is True and result["log"] == str(out)
    assert "verifying the submitted patch" in proc.stderr
    _check_log(out, task, result)
    return result


@pytest.mark.parametrize("task_dir", THREE, ids=lambda p: p.name)
def test_run_resolves_in_the_local_sandbox(task_dir, tmp_path):
    _run(task_dir, tmp_path, "local")


@pytest.mark.parametrize("task_dir", THREE, ids=lambda p: p.name)
@pytest.mark.docker
def test_run_resolves_in_docker(task_dir, tmp_path):
    docker_or_skip()
    _run(task_dir, tmp_path, "docker")


def test_run_in_the_text_format(tmp_path):
    result = _run(DEMO_TASKS[3], tmp_path, "local", mode="text")
    assert result["steps"] >= 3


def test_run_with_the_demo_policy_needs_no_model(tmp_path):
    out = tmp_path / "demo.jsonl"
    proc = trajscope("run", DEMO_TASKS[0], "--sandbox", "local", "--headless", "--out", out, "--seed", "0")
    assert proc.returncode in (0, 1), proc.stderr
    result = json.loads(proc.stdout)
    assert result["reason"] == "submitted" and result["tokens_in"] == 0
    assert "demo policy" in proc.stderr


def test_a_missing_api_key_is_one_clear_sentence(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    import subprocess
    import sys

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "trajscope.tui.cli",
            "run",
            str(DEMO_TASKS[0]),
            "--model",
            "anthropic/claude-3-5-sonnet-20240620",
            "--headless",
            "--out",
            str(tmp_path / "r.jsonl"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 2
    assert proc.stderr == (
        "trajscope: anthropic/claude-3-5-sonnet-20240620 needs ANTHROPIC_API_KEY set in the "
        "environment (or --api-key, or --api-base for a local server)\n"
    )
    assert not (tmp_path / "r.jsonl").exists()


@pytest.mark.parametrize(
    "args,message",
    [
        (["--model", "gpt4"], "unknown policy 'gpt4': use demo, a model as provider/model"),
        (["--max-steps", "0"], "--max-steps must be at least 1"),
    ],
)
def test_bad_options_are_one_line(tmp_path, args, message):
    proc = trajscope("run", DEMO_TASKS[0], "--headless", "--sandbox", "local", "--out", tmp_path / "r.jsonl", *args)
    assert proc.returncode == 2 and message in proc.stderr and proc.stderr.count("\n") == 1


def _live_run(server, out):
    """`trajscope run` with the viewer, in a tmux terminal."""
    import sys

    from tests.e2e.tmux import Terminal

    return Terminal(
        [
            sys.executable,
            "-m",
            "trajscope.tui.cli",
            "run",
            str(DEMO_TASKS[1]),
            "--model",
            "openai/fake-agent",
            "--api-base",
            server.url,
            "--sandbox",
            "local",
            "--out",
            str(out),
        ]
    )


def test_the_viewer_follows_a_run_live_and_q_leaves_a_complete_log(tmp_path):
    task = load_task_dir(DEMO_TASKS[1])
    out = tmp_path / "live.jsonl"
    with FakeLLM(Solver(task), delay_s=0.4) as server, _live_run(server, out) as term:
        term.wait_for("#n1", timeout=60)
        growing = term.screen()
        screen = term.wait_for("resolved", timeout=90)
        assert "#n3" in screen and "submissions 1 (1 resolved)" in screen and "#n3" not in growing
        term.press("q")
        screen = term.wait_for("EXIT=0", timeout=30)
    # a short summary for the person who quit the viewer (the JSON is --headless's)
    assert ": resolved;" in screen and f"trajscope open {out}" in screen.replace("\n", "") and "{" not in screen
    steps = int(re.search(r"(\d+) steps", screen).group(1))
    tokens = sum(e.get("tokens_in") or 0 for e in read_events(out) if e["type"] == "node_added")
    _check_log(out, task, {"steps": steps, "tokens_in": tokens})


def test_quitting_mid_run_keeps_what_was_recorded(tmp_path):
    task = load_task_dir(DEMO_TASKS[1])
    out = tmp_path / "live.jsonl"
    with FakeLLM(Solver(task), delay_s=1.5) as server, _live_run(server, out) as term:
        term.wait_for("#n1", timeout=60)
        term.press("q")
        screen = term.wait_for("EXIT=", timeout=30)
    assert "no submission (stopped)" in screen and "EXIT=1" in screen  # the summary for the person
    tree = Tree.fold(read_events(out))
    assert "n1" in tree.nodes and tree.nodes["n1"].observation and tree.finished == "stopped"
