"""The runs screen: a folder of real runs from four tools, with a harness report."""

from __future__ import annotations

from pathlib import Path

from trajscope.engine.formats.collection import find_runs, find_verdicts
from tests.functional.helpers import static_text, wait_for
from tests.support import runs_folder as batch
from trajscope.tui.app import TrajscopeApp
from trajscope.tui.bridge import RunsSource
from trajscope.tui.screens.explorer import ExplorerScreen
from trajscope.tui.screens.help import HelpScreen
from trajscope.tui.screens.run_list import RunsScreen

SIZE = (150, 36)


def app_for(root: Path, label: str | None = None) -> TrajscopeApp:
    source = RunsSource(Path(label) if label else root, find_runs(root), find_verdicts(root))
    return TrajscopeApp(source, theme="trajscope-dark")


async def all_read(pilot) -> RunsScreen:
    screen = pilot.app.screen
    await wait_for(pilot, lambda: isinstance(screen, RunsScreen) and screen.read == len(screen.rows), 60)
    await pilot.pause(0.3)
    return screen


def table_names(screen) -> list[str]:
    table = screen.query_one("DataTable")
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


async def test_the_runs_screen_lists_sorts_filters_and_opens_runs(tmp_path):
    root = batch(tmp_path)
    async with app_for(root).run_test(size=SIZE) as pilot:
        screen = await all_read(pilot)
        names = table_names(screen)
        assert len(names) == 3 + 3 + 1 + 1 + 1  # 3 OpenHands instances, 3 mini runs, SWE-agent, DARS, broken
        assert {"ponylang__ponyc-4595", "toolcall_submitted", "simple", "edit", "broken"} <= set(names)
        rows = {r.ref.name: r for r in screen.rows}
        assert rows["ponylang__ponyc-4595"].verdict == "resolved"  # from the harness's per-instance report
        assert rows["ponylang__ponyc-4593"].verdict == "unresolved"  # from its summary
        assert rows["toolcall_submitted"].verdict == "unresolved"
        assert rows["toolcall_step_limit"].verdict == "not verified" and rows["toolcall_step_limit"].submissions == 0
        assert rows["ponylang__ponyc-4595"].steps == 23 and rows["ponylang__ponyc-4595"].tokens > 0
        assert rows["edit"].branches > 0 and rows["broken"].verdict == "failed to read"
        summary = static_text(screen.query_one("#runs-summary"))
        assert "any resolved 1/8" in summary  # of the 8 runs read (one cannot be)

        await pilot.press("v")  # verdict filter: resolved only
        await pilot.pause()
        assert table_names(screen) == ["ponylang__ponyc-4595"]
        await pilot.press("escape")
        await pilot.pause()
        assert len(table_names(screen)) == 9

        await pilot.press("slash", *"ponyc", "enter")
        await pilot.pause()
        assert sorted(table_names(screen)) == ["ponylang__ponyc-4588", "ponylang__ponyc-4593", "ponylang__ponyc-4595"]
        await pilot.press("s", "s")  # sort by agent, then by steps (most first)
        await pilot.pause()
        assert screen.sort_column == "steps" and table_names(screen)[0] == "ponylang__ponyc-4588"

        await pilot.press("enter")  # the run with the most steps opens in the explorer
        await wait_for(
            pilot, lambda: isinstance(pilot.app.screen, ExplorerScreen) and pilot.app.screen.model is not None, 30
        )
        assert pilot.app.screen.model.stats()["nodes"] == 49
        await pilot.press("escape")
        await pilot.pause()
        assert pilot.app.screen is screen and len(table_names(screen)) == 3


async def test_a_run_that_cannot_be_read_says_why_and_the_list_stays(tmp_path):
    root = batch(tmp_path)
    async with app_for(root).run_test(size=SIZE) as pilot:
        screen = await all_read(pilot)
        await pilot.press("slash", *"broken", "enter")
        await pilot.pause()
        assert table_names(screen) == ["broken"]
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert pilot.app.screen is screen
        notes = [n.message for n in pilot.app._notifications]
        assert any("broken.traj" in n and "truncated or invalid JSON" in n for n in notes), notes
        await pilot.press("question_mark")  # every key of the screen, in the help
        await pilot.pause()
        assert isinstance(pilot.app.screen, HelpScreen)
        rows = dict(pilot.app.screen.rows)
        assert {"Sort", "Verdict filter", "Flagged only", "Filter"} <= set(rows.values())
        assert rows["⏎"].startswith("Open") and rows["↑"] == "Cursor up"  # the table's keys: it has the focus
