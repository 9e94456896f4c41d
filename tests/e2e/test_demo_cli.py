"""``trajscope demo`` in a real terminal (tmux): the tree grows, a person pauses, prunes,
re-samples with a hint, submits a node after seeing its tests, exports it, and quits;
the run log holds all of it."""

from __future__ import annotations

import re
import sys
import time

import orjson

import pytest

from trajscope.engine.events import read_events
from tests.e2e.tmux import Terminal

pytestmark = pytest.mark.subprocess


def demo_command(out) -> list[str]:
    """The demo as a person starts it, paced so a person (and these tests) can follow it."""
    demo = ["demo", "--sandbox", "local", "--pace", "0.3", "--max-nodes", "40", "--out", str(out)]
    return [sys.executable, "-m", "trajscope.tui.cli", *demo]


def test_demo_grows_and_a_person_steers_it_to_a_verified_patch(tmp_path):
    out = tmp_path / "demo.jsonl"
    command = demo_command(out)
    with Terminal(command, width=150, height=45) as term:
        term.wait_for("#n1", timeout=60)
        term.wait_for("#n4", timeout=60)  # it grows by itself
        screen = term.screen()
        assert "budget nodes" in screen and "prm builtin cpu" in screen, screen

        term.press("Space")
        term.wait_for("paused", timeout=30)
        term.press("p")
        pruned = re.search(r"pruned #(n\d+)", term.wait_for("what grows below it", timeout=20)).group(1)

        term.press("k", "r")
        term.wait_for("hint to the model", timeout=20)
        term.press("Tab")  # from how many (focused first) to the hint
        time.sleep(1.0)  # a person's pause: keys sent in the same instant may reach how many, which drops letters
        term.press("-l", "look at the unit table")
        term.wait_for("look at the unit table", timeout=10)
        term.press("Enter")
        resampled = re.search(r"re-sampling 2 at #(n\d+)", term.wait_for("re-sampling 2 at", timeout=20)).group(1)

        term.press("Space")
        term.wait_for("searching", timeout=20)
        # the engine's first verified submission (two workers may bring two between looks)
        term.wait_for_match(r"submissions [1-9]", timeout=120)
        term.press("b", "s")
        term.wait_for("hidden tests, in a fresh sandbox", timeout=20)
        verdict = term.wait_for("RESOLVED", timeout=120)
        assert "passed" in verdict
        term.press("w")
        term.wait_for("prediction for", timeout=20)
        term.press("Escape")  # alone: ESC followed at once by q would read as alt+q
        term.wait_for("f Follow", timeout=20)  # the live footer again (Follow stays in it at any width)
        term.press("q")
        final = term.wait_for("EXIT=", timeout=60)
    # a short summary for the person who quit, not a page of JSON
    assert "reopen it with" in final and "trajscope open" in final, final
    assert '"verified"' not in final and '"passed"' not in final, final

    events = read_events(out)
    assert events[-1]["type"] == "run_finished"
    assert any(
        e["type"] == "node_status" and e["id"] == pruned and e["status"] == "pruned" and e["by"] == "human"
        for e in events
    )
    asked = [e for e in events if e["type"] == "branch_requested" and e.get("by") == "human"]
    assert asked[0]["parent"] == resampled and asked[0]["hint"] == "look at the unit table"
    submitted = [e for e in events if e["type"] == "submitted"]
    assert submitted and all("resolved" in e["verified"] for e in submitted)
    prediction = orjson.loads((tmp_path / "predictions.jsonl").read_bytes().splitlines()[0])
    assert set(prediction) == {"instance_id", "model_name_or_path", "model_patch"}


def test_ctrl_c_in_the_live_app_stops_the_search_with_the_summary_of_q(tmp_path):
    out = tmp_path / "demo.jsonl"
    command = demo_command(out)
    with Terminal(command, width=150, height=45) as term:
        term.wait_for("#n2", timeout=60)
        term.press("C-c")
        final = term.wait_for("EXIT=", timeout=60)
    assert "reopen it with" in final and "Do you want to quit" not in final, final
    assert re.search(r"EXIT=[01]\b", final), final  # the exit of q (resolved or not), not of an interrupt
    assert read_events(out)[-1]["type"] == "run_finished"


def test_ctrl_c_in_headless_mode_says_where_the_log_is_and_how_to_go_on(tmp_path):
    """The line it prints is a command that works: run as printed, it goes on with the demo's log."""
    import shlex
    import signal
    import subprocess
    import time

    out = tmp_path / "demo.jsonl"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trajscope.tui.cli",
            "demo",
            "--headless",
            "--sandbox",
            "local",
            "--pace",
            "0.3",
            "--max-nodes",
            "24",  # room left for the resumed search: a step of the demo adds up to 3 nodes
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not out.exists() or out.read_bytes().count(b'"node_executed"') < 2):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert f"log {out}" in err and "Traceback" not in err, err
    line = next(line for line in err.splitlines() if "go on with it:" in line)
    again = shlex.split(line.split("go on with it: ", 1)[1].split(" (add ")[0])
    assert again[:2] == ["trajscope", "search"] and again[-3:] == ["--out", str(out), "--resume"]
    before = sum(1 for e in read_events(out) if e["type"] == "node_added")
    resumed = subprocess.run(
        [sys.executable, "-m", "trajscope.tui.cli", *again[1:], "--headless"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode in (0, 1), resumed.stderr
    events = read_events(out)
    assert sum(1 for e in events if e["type"] == "node_added") > before and events[-1]["type"] == "run_finished"
