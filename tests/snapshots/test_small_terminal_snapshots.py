"""SVG snapshots of every screen at the sizes people have (80x24 and 100x30): the tree keeps its
scores and ✓/✗, the footer its essential keys, the tables their verdicts. Review changes to them;
never update blindly."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import DEMO_RUN
from tests.functional.helpers import wait_for
from tests.functional.layout_helpers import still_fleet
from tests.snapshots.test_live_snapshots import quiet_node, ready
from tests.support import runs_folder
from trajscope.engine.formats.collection import find_runs, find_verdicts
from trajscope.tui.app import TrajscopeApp
from trajscope.tui.bridge import RunsSource, Source
from trajscope.tui.remote import FleetSource
from trajscope.tui.screens.run_list import RunsScreen

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((100, 30), id="100x30")]


async def explorer_at(pilot, node_id: str) -> None:
    await wait_for(pilot, lambda: pilot.app.screen.model is not None and not pilot.app.screen.tree.loading)
    pilot.app.screen.tree.reveal(node_id)
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_explorer_small(snap_compare, size):
    async def run_before(pilot):
        await explorer_at(pilot, "6")

    assert snap_compare(
        TrajscopeApp(Source(DEMO_RUN), theme="trajscope-dark"), terminal_size=size, run_before=run_before
    )


def test_explorer_detail_hidden_80x24(snap_compare):
    async def run_before(pilot):
        await explorer_at(pilot, "9")
        await pilot.press("d", "d")
        pilot.app.clear_notifications()  # the pane's state, said as the key is pressed, would cover the tree
        await pilot.pause(0.3)

    assert snap_compare(
        TrajscopeApp(Source(DEMO_RUN), theme="trajscope-dark"), terminal_size=(80, 24), run_before=run_before
    )


@pytest.mark.parametrize("size", SIZES)
def test_fleet_small(snap_compare, tmp_path, size):
    fleet = still_fleet(tmp_path)

    async def run_before(pilot):
        await pilot.pause(0.6)

    try:
        assert snap_compare(
            TrajscopeApp(FleetSource(fleet, tmp_path / "out"), theme="trajscope-dark"),
            terminal_size=size,
            run_before=run_before,
        )
    finally:
        fleet.close()


@pytest.mark.parametrize("size", SIZES)
def test_runs_small(snap_compare, tmp_path, size):
    root = runs_folder(tmp_path)
    app = TrajscopeApp(RunsSource(Path("batch"), find_runs(root), find_verdicts(root)), theme="trajscope-dark")

    async def run_before(pilot):
        await wait_for(
            pilot,
            lambda: isinstance(pilot.app.screen, RunsScreen) and pilot.app.screen.read == len(pilot.app.screen.rows),
            60,
        )
        pilot.app.clear_notifications()  # a note names the files not read, in a temporary folder
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES)
def test_live_small(snap_compare, tmp_path, size):
    from tests.functional.live_helpers import app_for, demo_session

    session = demo_session(tmp_path, nodes=60, pause_at=10)

    async def run_before(pilot):
        await ready(pilot, session)
        pilot.app.screen.tree.reveal(quiet_node(session, "edit")[0])
        await pilot.pause(0.2)

    try:
        assert snap_compare(app_for(session), terminal_size=size, run_before=run_before)
    finally:
        session.close()
