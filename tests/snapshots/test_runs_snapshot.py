"""SVG snapshot of the runs screen on a folder of real runs. Review changes; never update blindly."""

from __future__ import annotations

from pathlib import Path

from trajscope.engine.formats.collection import find_runs, find_verdicts
from tests.functional.helpers import wait_for
from tests.support import runs_folder
from trajscope.tui.app import TrajscopeApp
from trajscope.tui.bridge import RunsSource
from trajscope.tui.screens.run_list import RunsScreen


def test_runs_screen(snap_compare, tmp_path):
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

    assert snap_compare(app, terminal_size=(150, 20), run_before=run_before)
