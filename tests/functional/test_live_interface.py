"""One live screen, two kinds of search behind it: the Session in this process and a RemoteSession
over a real worker (a SearchWorker behind its control socket, as a served search runs; a
batch's driver forwards the same way). Both are held to ``engine.live.LiveSearch``, and the
live screen shows the same status bar facts from either, for the same search."""

from __future__ import annotations

import contextlib
import inspect
import re
import time
from types import SimpleNamespace

import pytest

from trajscope.engine.events import read_events
from trajscope.engine.live import PERSON_COMMANDS, LiveBudget, LiveSearch, PersonCommands
from trajscope.engine.search.commands import Commands
from trajscope.engine.tree import Tree
from tests.e2e.test_batch import specs
from tests.functional.helpers import static_text, wait_for
from tests.functional.live_helpers import SIZE, attached
from trajscope.tui.app import TrajscopeApp
from trajscope.tui.remote import ForwardedCommands, RemoteLiveSource, RemoteSession
from trajscope.engine.batch import worker as worker_module
from trajscope.engine.batch.worker import SearchWorker
from trajscope.tui.bridge import LiveSource
from trajscope.tui.serve.attach import Watched
from trajscope.engine.batch.control import ControlClient, ControlServer

WALL_S = 600


@contextlib.contextmanager
def served_search(tmp_path):
    """A demo DARS search in a SearchWorker (its log in ``tmp_path``), reached through its control
    socket and followed as a viewer follows it; stopped and removed at the end."""
    spec = specs({"duration-ms-unit"}, strategy="dars", max_nodes=40, max_time=WALL_S, pace=0.15)[0]
    worker = SearchWorker(spec | {"log": str(tmp_path / "run.jsonl"), "close_when_done": False})
    worker.start()
    server = ControlServer(worker)
    watched = Watched(worker.log, ControlClient(server.control), spec["name"])
    try:
        yield worker, watched
    finally:
        watched.close()
        server.close()
        worker.dispose()


def until(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def paused_and_seen(worker, watched) -> bool:
    """The worker's search is paused with nothing running, and the viewer has all of it (every
    event of the log: a step that ended as the search paused adds events to a node it has)."""
    session, status = worker.session, watched.status
    return (
        session.paused
        and session.busy == 0
        and status.get("paused") is True
        and status.get("busy") == 0
        and len(watched.tree) == len(session.tree)
        and status.get("phase") == session.phase
        and len(watched.events_so_far()) == len(read_events(worker.log))
    )


def facts(search: LiveSearch) -> dict:
    budget = search.budget
    return {
        "log": search.log_path,
        "strategy": search.strategy_name,
        "phase": search.phase,
        "paused": search.paused,
        "finished": search.finished,
        "busy": search.busy,
        "workers": search.workers,
        "scorers": [s.name for s in search.scorers],
        "sandbox": search.sandbox_kind,
        "verifying": dict(search.verifying),
        "nodes": len(search.tree),
        "limits": (budget.nodes, budget.tokens, budget.cost, budget.wall_s),
    }


def test_a_session_and_a_remote_session_are_the_same_live_search(tmp_path):
    with served_search(tmp_path) as (worker, watched):
        until(lambda: worker.session is not None and len(worker.session.tree) >= 4)
        worker.command("pause", [], {})
        until(
            lambda: paused_and_seen(worker, watched) and worker.session.budget.used(worker.session.tree)["wall_s"] >= 2
        )
        session, remote = worker.session, RemoteSession(watched.client, watched)
        for search in (session, remote):
            assert isinstance(search, LiveSearch)
            assert isinstance(search.budget, LiveBudget) and isinstance(search.commands, PersonCommands)
        assert (
            facts(session)
            == facts(remote)
            == facts(session)
            | {
                "log": worker.log,
                "strategy": "dars",
                "phase": "dars",
                "paused": True,
                "finished": None,
                "busy": 0,
                "workers": 1,
                "scorers": ["heuristic"],
                "sandbox": "local",
                "verifying": {},
                "limits": (40, None, None, WALL_S),
            }
        )
        # one clock: the remote budget has used what the worker's has, not what its own object has
        used = session.budget.used(session.tree)["wall_s"]
        assert abs(remote.budget.used(remote.tree)["wall_s"] - used) < 1.0
        heard: list[dict] = []
        assert remote.subscribe(heard.append) == read_events(worker.log)
        remote.commands.resume()  # through the control socket, to the worker's Session
        until(lambda: not session.paused and heard)
        remote.unsubscribe(heard.append)
        assert [e["name"] for e in read_events(worker.log) if e["type"] == "command"][-2:] == ["pause", "resume"]
    # what only imitates a search is no LiveSearch (the stand-ins RemoteSession was made of)
    assert not isinstance(SimpleNamespace(tree=Tree(), paused=False, busy=0), LiveSearch)


def test_forwarded_commands_are_the_person_commands_the_engine_takes():
    """The remote side forwards exactly what the engine's Commands take, by the same signatures."""
    assert worker_module.PERSON_COMMANDS is PERSON_COMMANDS  # the worker calls nothing else
    assert {n for n in vars(PersonCommands) if not n.startswith("_")} == set(PERSON_COMMANDS)  # the Protocol
    for name in PERSON_COMMANDS:
        assert (
            inspect.signature(getattr(ForwardedCommands, name)).parameters.keys()
            == inspect.signature(getattr(Commands, name)).parameters.keys()
        ), name
        forwarded = inspect.signature(getattr(ForwardedCommands, name)).parameters.values()
        engine = inspect.signature(getattr(Commands, name)).parameters.values()
        assert [p.default for p in forwarded] == [p.default for p in engine], name
    sent: list = []
    channel = SimpleNamespace(command=lambda member, name, *args, **kwargs: sent.append((name, args, kwargs)))
    commands = ForwardedCommands(channel, member=None)
    commands.prune("n3")
    commands.resample("n2", n=2, hint="try the tests")
    assert sent == [
        ("prune", ("n3",), {"reason": "pruned by hand"}),
        ("resample", ("n2",), {"n": 2, "hint": "try the tests"}),
    ]


def status_lines(app) -> list[str]:
    return static_text(app.screen.query_one("StatusBar")).strip().splitlines()


def shown_used_s(line: str) -> int:
    found = re.search(rf"budget nodes \d+/40 (\d+)/{WALL_S} s", line)
    assert found, line
    return int(found.group(1))


@pytest.mark.slow
async def test_the_live_screen_shows_the_same_status_from_a_session_and_a_remote_session(tmp_path):
    with served_search(tmp_path) as (worker, watched):
        until(lambda: worker.session is not None and len(worker.session.tree) >= 4)
        session = worker.session
        bars = []
        # a read-only viewer's screen refuses the controls: space pauses nothing
        app = TrajscopeApp(RemoteLiveSource(watched.client, watched, read_only=True), theme="trajscope-dark")
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, 3)
            await pilot.press("space")
            await pilot.pause(0.5)
            assert not session.paused and watched.status.get("paused") is False
            footer = " ".join(key.description for key in app.screen.query("FooterKey"))
            assert "Pause" not in footer and "Prune" not in footer and "Help" in footer
        app = TrajscopeApp(RemoteLiveSource(watched.client, watched), theme="trajscope-dark")
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, 3)
            await pilot.press("space")  # forwarded to the worker through its control socket
            await wait_for(pilot, lambda: paused_and_seen(worker, watched), 30)
            # DARS past its own limits says so in its phase (an event in the log, the status on the worker)
            session.strategy.set_phase(session, "relaxed 1/2")
            await wait_for(
                pilot, lambda: paused_and_seen(worker, watched) and session.budget.used(session.tree)["wall_s"] >= 3, 30
            )
            await wait_for(pilot, lambda: len(app.screen.model) == len(session.tree), 10)
            await pilot.pause(0.3)  # a spin of the status bar
            bars.append((status_lines(app), session.budget.used(session.tree)["wall_s"]))
        app = TrajscopeApp(LiveSource(session), theme="trajscope-dark")
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, 3)
            await wait_for(pilot, lambda: len(app.screen.model) == len(session.tree), 10)
            await pilot.pause(0.3)
            bars.append((status_lines(app), session.budget.used(session.tree)["wall_s"]))
    (remote, remote_used), (local, local_used) = bars
    for lines, used in bars:
        assert abs(shown_used_s(lines[1]) - used) <= 1.5, (lines, used)  # the worker's clock, 3 s and more in
        assert lines[1].startswith(f"paused · budget nodes {len(session.tree)}/40 ")
        assert " · phase relaxed 1/2 · workers 0/1 busy · prm heuristic · following" in lines[1]
    assert remote[0] == local[0]  # the tree's counts, folded from the same log
    assert re.sub(r"\d+/600 s", "", remote[1]) == re.sub(r"\d+/600 s", "", local[1])
