"""The control socket of a served search, played by a viewer that sends what a browser never
would: every argument is checked by the same rules as the dialogs, and a bad one is an error
answer while the search (and its only worker thread) goes on."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from trajscope.engine.events import read_events
from trajscope.engine.search.commands import MAX_HINT
from trajscope.engine.tree import ROOT
from trajscope.engine.batch.control import MAX_REQUEST
from tests.conftest import DEMO_TASKS
from tests.support import wait_until

# what this search sets; every other setting is the spec's default (the demo policy...)
SETTINGS = dict(sandbox="local", timeout=60, strategy="sample", prm="heuristic", max_nodes=200, pace=0.05)


def raw_command(path, line: bytes) -> dict:
    """One request as bytes, the way any local process could write it to the socket."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(str(path))
        sock.sendall(line + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data)


def search_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("trajscope-worker-")]


@pytest.fixture
def served(tmp_path):
    from trajscope.engine.spec import SearchSpec
    from trajscope.engine.batch.worker import SearchWorker
    from trajscope.engine.batch.control import ControlServer

    task = next(p for p in DEMO_TASKS if p.name == "semver-prerelease")
    log = tmp_path / "served.jsonl"
    worker = SearchWorker(
        {
            "name": task.name,
            "task": str(task),
            "instance": None,
            "search": SearchSpec(**SETTINGS).to_json(),
            "log": str(log),
            "close_when_done": False,
        }
    )
    worker.start()
    assert wait_until(lambda: worker.state == "running" and worker.session.tree.children(ROOT), 60), worker.error
    server = ControlServer(worker)
    try:
        yield worker, server, log
    finally:
        server.close()
        worker.close("the test ended")
        worker.dispose()


def test_bad_arguments_are_answers_and_the_search_goes_on(served, monkeypatch):
    from trajscope.engine.batch.control import ControlClient

    worker, server, log = served
    client = ControlClient(server.control)
    client.command(None, "pause")  # a paused search still runs what a person asks for
    assert len(search_threads()) == 1
    first = worker.session.tree.children(ROOT)[0]
    refused = {
        "n is not a number": (("resample", ROOT), {"n": "lots"}, "how many"),
        "n is too many": (("resample", ROOT), {"n": 1000000}, "from 1 to 8"),
        "n is zero": (("resample", ROOT), {"n": 0}, "from 1 to 8"),
        "n is a boolean": (("resample", ROOT), {"n": True}, "from 1 to 8"),
        "a hint too long": (("resample", ROOT), {"n": 1, "hint": "x" * (MAX_HINT + 1)}, "at most"),
        "a hint not text": (("resample", ROOT), {"n": 1, "hint": {"a": 1}}, "text"),
        "an argument it does not take": (("resample", ROOT), {"n": 1, "priority": -1}, "resample takes"),
        "a node that does not exist": (("resample", "n99999"), {"n": 1}, "no node"),
        "a node id that is not text": (("prune", ["n1"]), {}, "node id"),
        "an action that is no tool": (("edit", first), {"action": {"tool": "rm", "args": {}}}, "unknown tool"),
        "an action whose args are no object": (("edit", first), {"action": {"tool": "bash", "args": 5}}, "args"),
        "a budget step too large": (("raise_budget",), {"nodes": 10**12}, "nodes must be"),
        "a negative budget step": (("raise_budget",), {"cost": -5.0}, "cost must be"),
        "a budget step that is text": (("raise_budget",), {"tokens": "many"}, "tokens must be"),
        "a budget limit it does not have": (("raise_budget",), {"gpus": 1}, "raise_budget takes"),
        # past any float: an int is compared to the cap as it is, never converted (OverflowError)
        "a cost step of 10**400": (("raise_budget",), {"cost": 10**400}, "cost must be"),
        "a wall time step of 10**400": (("raise_budget",), {"wall_s": 10**400}, "wall_s must be"),
        "a tokens step of 10**400": (("raise_budget",), {"tokens": 10**400}, "tokens must be"),
        "a nodes step of -10**400": (("raise_budget",), {"nodes": -(10**400)}, "nodes must be"),
    }
    for what, ((name, *args), kwargs, says) in refused.items():
        with pytest.raises(RuntimeError, match=says):
            client.command(None, name, *args, **kwargs)
        assert search_threads() and all(t.is_alive() for t in search_threads()), what
    # JSON's Infinity and NaN would make a limit never reached: refused too
    for value in (b"Infinity", b"NaN"):
        answer = raw_command(
            server.control, b'{"op": "command", "name": "raise_budget", "kwargs": {"cost": ' + value + b"}}"
        )
        assert "cost must be" in answer["error"]
    assert "not a request" in raw_command(server.control, b"[" * 60000)["error"]
    assert "at most" in raw_command(server.control, b" " * (MAX_REQUEST + 10))["error"]
    # whatever a command's check raises is an answer, never a traceback on the server's terminal
    # and a viewer left waiting
    import trajscope.engine.search.commands

    def overflows(n):
        raise OverflowError("int too large to convert to float")

    monkeypatch.setattr(trajscope.engine.search.commands, "samples", overflows)
    with pytest.raises(RuntimeError, match="resample failed: OverflowError: int too large"):
        client.command(None, "resample", ROOT, n=2)
    monkeypatch.undo()
    assert worker.session.budget.nodes == SETTINGS["max_nodes"]
    assert not [e for e in read_events(log) if e["type"] == "branch_requested"]  # nothing bad reached the log

    # the search still does what it is asked, with its one worker thread: a re-sample is drawn
    # (the demo policy may repeat its siblings: then the log says so) and an edit runs
    before = sum(e["type"] == "node_added" for e in read_events(log))  # paused: only what is asked adds
    client.command(None, "resample", ROOT, n=2, hint="look at the prerelease comparison")
    client.command(None, "edit", first, {"tool": "bash", "args": {"command": "echo by-hand"}})
    client.command(None, "raise_budget", nodes=10, cost=1)

    def answered() -> bool:
        events = read_events(log)
        added = sum(e["type"] == "node_added" for e in events) - before
        drawn = added >= 2 or any(e["type"] == "branch_requested" and e.get("result") for e in events)
        return drawn and any(e["type"] == "node_added" and e.get("edited_from") == first for e in events)

    assert wait_until(answered, 60), "the search did not run what it was asked after the bad commands"
    assert [t.is_alive() for t in search_threads()] == [True]
    assert worker.session.budget.nodes == SETTINGS["max_nodes"] + 10
    asked = [e for e in read_events(log) if e["type"] == "branch_requested" and "result" not in e]
    assert [(e["n"], e["by"]) for e in asked] == [(2, "human")]
    assert client.status()["state"] == "running"
