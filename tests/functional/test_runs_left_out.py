"""The runs screen (`trajscope open DIR`) says which files it did not list and why."""

from pathlib import Path

from tests.functional.helpers import static_text, wait_for
from tests.unit.test_folder_listing import _folder
from trajscope.engine.formats.collection import find_runs
from trajscope.tui.app import TrajscopeApp
from trajscope.tui.bridge import RunsSource
from trajscope.tui.screens.run_list import RunsScreen


async def test_the_runs_screen_says_what_it_did_not_list(tmp_path):
    root = _folder(tmp_path)
    app = TrajscopeApp(RunsSource(Path("runs"), find_runs(root), {}), theme="trajscope-dark")
    async with app.run_test(size=(150, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.read == 3, 60)
        await pilot.pause(0.3)
        summary = static_text(app.screen.query_one("#runs-summary"))
        assert "/2" in summary and "1 could not be read" in summary and "4 other files not runs" in summary
        said = " ".join(str(n.message) for n in app._notifications)
        assert "pipe.traj" in said and "linked.root" in said and "settings.json" in said and "notes.txt" in said
