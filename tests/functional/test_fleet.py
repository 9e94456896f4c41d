"""The fleet screen against a real batch (worker processes, demo policy, local sandbox): rows
fill in live, space pauses every search, enter opens a search's live tree where a prune is
forwarded to the worker and recorded by human in the driver's copy of the log."""

from __future__ import annotations

import pytest

from trajscope.engine.events import read_events
from trajscope.engine.tree import ROOT
from tests.e2e.test_batch import specs
from tests.functional.helpers import static_text, wait_for
from trajscope.tui.app import TrajscopeApp
from trajscope.engine.batch.executors import LocalExecutor
from trajscope.engine.batch.fleet import Fleet
from trajscope.tui.remote import FleetSource
from trajscope.tui.screens.fleet import FleetScreen
from trajscope.tui.screens.live import LiveScreen

SIZE = (160, 40)


@pytest.mark.subprocess
async def test_the_fleet_live_pause_all_and_a_forwarded_prune(tmp_path):
    fleet = Fleet(
        specs({"semver-prerelease", "ini-merge-case"}, pace=0.3, max_nodes=200), LocalExecutor(2), tmp_path / "out", 2
    )
    fleet.start()
    app = TrajscopeApp(FleetSource(fleet, tmp_path / "out"), theme="trajscope-dark")
    try:
        async with app.run_test(size=SIZE) as pilot:
            screen = app.screen
            assert isinstance(screen, FleetScreen)
            await wait_for(
                pilot,
                lambda: all(m.state == "running" and len(m.tree) >= 3 for m in fleet.members),
                120,
                lambda: [(m.name, m.state, m.reason, len(m.tree)) for m in fleet.members],
            )
            await pilot.pause(0.6)
            totals = static_text(screen.query_one("#fleet-totals"))
            assert "2 running" in totals and "nodes/s" in totals and "local: 2 worker process(es)" in totals

            await pilot.press("space")  # every search pauses
            await wait_for(pilot, lambda: all(m.status.get("paused") for m in fleet.members), 30)
            await pilot.press("space")
            await wait_for(pilot, lambda: not any(m.status.get("paused") for m in fleet.members), 30)

            await pilot.press("enter")  # the first row's live tree
            await wait_for(
                pilot,
                lambda: (
                    isinstance(app.screen, LiveScreen) and app.screen.model is not None and len(app.screen.model) > 2
                ),
                60,
            )
            live = app.screen
            member = live.session.member
            await pilot.press("space")  # this search only
            await wait_for(pilot, lambda: member.status.get("paused") is True, 30)
            assert not all(m.status.get("paused") for m in fleet.members if m is not member)
            # a paused search may hold only nodes still running: wait for one that is done (the
            # steps in flight finish while the search is paused)
            await wait_for(
                pilot, lambda: any(n.id != ROOT and n.status == "done" for n in live.model.nodes.values()), 60
            )
            target = next(n for n in live.model.nodes.values() if n.id != ROOT and n.status == "done")
            # following the frontier moves the cursor to each step that ends (steps in flight end
            # while the search is paused): a person stops it before choosing a node to prune
            await pilot.press("f")
            await wait_for(pilot, lambda: not live.following, 10)
            live.tree.reveal(target.id)
            await wait_for(pilot, lambda: live.tree.cursor_id == target.id, 10)
            await pilot.press("p")
            await wait_for(pilot, lambda: live.model.nodes[target.id].status == "pruned", 30)
            statuses = [e for e in read_events(member.log) if e["type"] == "node_status" and e["id"] == target.id]
            assert statuses[-1]["status"] == "pruned" and statuses[-1]["by"] == "human"
            await pilot.press("escape")
            assert isinstance(app.screen, FleetScreen)
    finally:
        fleet.stop()
    for member in fleet.members:
        assert read_events(member.log)[-1]["type"] == "run_finished"


def test_a_remote_search_shows_the_time_its_worker_has_used():
    """The status bar read 0/600 s for a worker 420 s into a 600 s budget: the remote Budget was
    made (and its clock started) on every read."""
    from types import SimpleNamespace

    from trajscope.engine.tree import Tree
    from trajscope.tui.remote import RemoteSession
    from trajscope.tui.screens.live import budget_text

    member = SimpleNamespace(
        name="t",
        log=None,
        tree=Tree(),
        done=False,
        status={"budget": {"nodes": 60, "wall_s": 600, "used_wall_s": 420.0}},
    )
    session = RemoteSession(channel=None, member=member)
    assert "420/600 s" in budget_text(session)
    assert session.budget is session.budget  # one clock, read twice
    member.status = {"budget": {"nodes": 90, "wall_s": 900, "used_wall_s": 430.0}}  # the next status
    assert "nodes 0/90" in budget_text(session) and "430/900 s" in budget_text(session)


@pytest.mark.subprocess
async def test_ctrl_c_on_the_fleet_quits_as_q_does(tmp_path):
    """Ctrl-C showed Textual's "press q to quit"; it ends the app, and `trajscope batch` then
    stops every search and writes the summary as after q."""
    fleet = Fleet(specs({"semver-prerelease"}, pace=0.3, max_nodes=200), LocalExecutor(1), tmp_path / "out", 1)
    fleet.start()
    app = TrajscopeApp(FleetSource(fleet, tmp_path / "out"), theme="trajscope-dark")
    try:
        async with app.run_test(size=SIZE) as pilot:
            assert isinstance(app.screen, FleetScreen)
            await pilot.press("ctrl+c")
            await pilot.pause()
            assert app.return_code == 0
    finally:
        fleet.stop()
