"""`trajscope serve demo` is `trajscope demo` (issue 31, item 2.7): the same task and settings,
started when the first viewer arrives (a search started with the server had finished before
anyone opened the page), a new one for a viewer who finds the last ended and nobody watching;
Ctrl-C prints the summary `q` prints; static files are not logged at INFO."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from trajscope.engine.events import read_events
from tests.support import wait_until

pytest.importorskip("textual_serve", reason="trajscope[serve] is a test extra")
aiohttp = pytest.importorskip("aiohttp")


@dataclass
class Served:
    proc: subprocess.Popen
    port: int
    token: str
    err: Path

    def output(self) -> str:
        return self.err.read_text(errors="replace")


def start(work: Path, *args: str) -> Served:
    """``trajscope serve ARGS`` on a free port (its log lines on stdout, its own on stderr, both
    in one file), once it prints its URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    err = work / f"output-{port}.txt"
    with open(err, "wb") as e:
        proc = subprocess.Popen(
            [sys.executable, "-m", "trajscope.tui.cli", "serve", *args, "--port", str(port)],
            stdout=e,
            stderr=e,
            start_new_session=True,
            env=os.environ | {"PYTHONUNBUFFERED": "1"},
        )
    if not wait_until(lambda: "trajscope: serving" in err.read_text(), 60, 0.2):
        proc.kill()
        raise AssertionError(f"serve did not listen: {err.read_text()[-2000:]}")
    token = parse_qs(urlsplit(re.search(r"at (http://\S+)", err.read_text()).group(1)).query)["token"][0]
    return Served(proc, port, token, err)


def demo_spec(*argv: str) -> dict:
    """The spec `trajscope demo ARGV` runs."""
    from trajscope.tui.cli import build_parser
    from trajscope.tui.cli.specs import spec_from_args

    return spec_from_args(build_parser().parse_args(["demo", *argv])).to_json()


def test_serve_demo_parses_to_the_terminal_demo():
    from trajscope.tui.cli import build_parser
    from trajscope.tui.cli.specs import spec_from_args

    served = build_parser().parse_args(["serve", "demo"])
    terminal = build_parser().parse_args(["demo"])
    assert served.task == terminal.task
    assert spec_from_args(served).to_json() == spec_from_args(terminal).to_json()
    assert demo_spec()["strategy"] == "dars+prune" and demo_spec()["workers"] == 2  # what the README shows


@pytest.mark.subprocess
def test_a_served_demo_starts_for_its_first_viewer_and_ctrl_c_prints_the_summary(tmp_path):
    log = tmp_path / "served.jsonl"
    served = start(tmp_path, "demo", "--pace", "0.3", "--out", str(log))
    try:
        assert "starts when the first viewer arrives" in served.output()
        assert not wait_until(lambda: log.exists() and log.stat().st_size > 0, 3, 0.2), "it started with no viewer"

        base = f"127.0.0.1:{served.port}"

        async def one_viewer() -> None:
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://{base}/static/css/xterm.css") as static:
                    assert static.status == 200
                url = f"ws://{base}/ws?token={served.token}&width=100&height=30"
                async with session.ws_connect(url, origin=f"http://{base}") as ws:
                    await ws.receive(timeout=90)  # the viewer's first bytes: its process runs

        asyncio.run(one_viewer())
        assert wait_until(lambda: any(e["type"] == "node_executed" for e in read_events(log)), 90)
    finally:
        os.killpg(served.proc.pid, signal.SIGINT)
        served.proc.wait(90)
    started = next(e for e in read_events(log) if e["type"] == "run_started")
    spec = demo_spec("--pace", "0.3", "--out", str(log))
    recorded = started["config"]["spec"]
    assert {k: recorded[k] for k in spec if k in recorded} == {k: v for k, v in spec.items() if k in recorded}
    assert started["task"]["instance_id"] == "demo__humandur-23"  # the terminal demo's task
    output = served.output()
    assert "a viewer arrived: the search of demo__humandur-23" in output
    # the lines `q` prints in the terminal (tui/cli/search.py summary_lines)
    assert "trajscope: demo__humandur-23: " in output and f"reopen it with `trajscope open {log}`" in output
    assert "xterm.css" not in output  # a static file: DEBUG, not INFO
    assert read_events(log)[-1]["type"] == "run_finished"


class FakeWorker:
    """A SearchWorker's surface as SharedSearch uses it."""

    made: list[FakeWorker] = []

    def __init__(self) -> None:
        self.spec = {"name": "t"}
        self.log = Path(f"/nonexistent/run-{len(self.made)}.jsonl")
        self.state, self.error, self.result = "idle", "", None
        self.closed = False
        self.made.append(self)

    def start(self) -> None:
        self.state = "running"

    def status(self) -> dict:
        return {"state": self.state}

    def close(self, reason: str) -> None:
        self.closed, self.result = True, {"log": str(self.log)}

    def dispose(self) -> None:
        pass


def test_the_search_starts_for_the_first_viewer_and_again_only_when_it_ended_unwatched():
    from trajscope.tui.serve.shared import SharedSearch

    FakeWorker.made = []
    said: list[str] = []
    shared = SharedSearch(FakeWorker, read_only=False, say=said.append)
    try:
        assert FakeWorker.made == []  # nothing before a viewer
        first = shared.viewer_command(0)
        assert len(FakeWorker.made) == 1 and "run-0.jsonl" in first and "--read-only" not in first
        assert shared.viewer_command(1) == first  # a second viewer joins it
        FakeWorker.made[0].state = "finished"
        assert shared.viewer_command(1) == first  # someone still watches the finished search
        fresh = shared.viewer_command(0)  # nobody watches, and it ended: a new search, a new log
        assert len(FakeWorker.made) == 2 and FakeWorker.made[0].closed and "run-1.jsonl" in fresh
        assert shared.viewer_command(0) == fresh  # running: a viewer who arrives alone joins it
        assert any("a new one starts for the new viewer" in line for line in said)
    finally:
        assert shared.close() == {"log": "/nonexistent/run-1.jsonl"}
    assert shared.close() is None


@pytest.mark.subprocess
def test_serve_demo_refuses_a_taken_out_before_listening(tmp_path):
    taken = tmp_path / "taken.jsonl"
    taken.write_text('{"type": "run_started"}\n')
    proc = subprocess.run(
        [sys.executable, "-m", "trajscope.tui.cli", "serve", "demo", "--out", str(taken), "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and f"{taken} already exists; choose another --out" in proc.stderr, proc.stderr
