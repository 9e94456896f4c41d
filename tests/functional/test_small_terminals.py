"""Terminal sizes vary: every screen derives its widths from the space it has. At 80 columns the
tree keeps scores and ✓/✗ on every line and the footer keeps the essential keys; a key narrows
or hides the detail pane; at 200 columns labels and table columns take the room there is."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import DEMO_RUN
from tests.functional.helpers import wait_for
from tests.functional.layout_helpers import FAILED_WHY, FINISHED_WHY, screen_lines, still_fleet
from tests.functional.live_helpers import app_for, demo_session, settled
from tests.support import runs_folder
from trajscope.engine.formats.collection import find_runs, find_verdicts
from trajscope.engine.tree import ROOT
from trajscope.tui.app import TrajscopeApp
from trajscope.tui.bridge import RunsSource, Source
from trajscope.tui.remote import FleetSource
from trajscope.tui.screens.run_list import RunsScreen
from trajscope.tui.settings import binding_ids
from trajscope.tui.widgets.key_footer import KEEP
from trajscope.tui.widgets.node_detail import NodeDetail


async def explorer(pilot):
    await wait_for(pilot, lambda: pilot.app.screen.model is not None and not pilot.app.screen.tree.loading)
    await pilot.pause()
    return pilot.app.screen


def tree_rows(app) -> list[str]:
    """The tree pane's text on each row of the screen (the pane ends at its border, ▕)."""
    return [line.split("▕")[0] for line in screen_lines(app) if "#" in line.split("▕")[0]]


def assert_every_line_keeps_its_figures(app) -> None:
    model = app.screen.model
    rows = tree_rows(app)
    for node in model.nodes.values():
        if node.id == ROOT:
            continue
        row = next(r for r in rows if f"#{node.id} " in r)
        if node.score is not None:
            assert f"{node.score:.2f}" in row, row
        if node.verdict is not None:
            assert {"resolved": "✓", "unresolved": "✗"}[node.verdict] in row, row


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
async def test_every_tree_line_keeps_its_score_and_verdict_at_small_sizes(size):
    app = TrajscopeApp(Source(DEMO_RUN), theme="trajscope-dark")
    async with app.run_test(size=size) as pilot:
        await explorer(pilot)
        assert_every_line_keeps_its_figures(app)


async def test_labels_follow_the_width_the_tree_has():
    """At 200 columns the actions were cut at ~35 characters beside 40 free columns; and a
    resize to 80 fits them again."""
    app = TrajscopeApp(Source(DEMO_RUN), theme="trajscope-dark")
    async with app.run_test(size=(200, 40)) as pilot:
        screen = await explorer(pilot)
        longest = max((n for n in screen.model.nodes.values() if n.id != ROOT), key=lambda n: len(n.short(500)))
        whole = longest.short(500)
        assert len(whole) > 34 and any(whole in row for row in tree_rows(app))
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.2)
        assert not any(whole in row for row in tree_rows(app))
        assert_every_line_keeps_its_figures(app)


async def test_the_detail_key_narrows_then_hides_the_detail_pane_and_the_labels_follow():
    app = TrajscopeApp(Source(DEMO_RUN), theme="trajscope-dark")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await explorer(pilot)
        detail = screen.query_one(NodeDetail)
        widths = [screen.tree.size.width]
        bars = [sum("▰" in row or "▱" in row for row in tree_rows(app))]
        for _ in range(2):
            await pilot.press("d")
            await pilot.pause(0.2)
            widths.append(screen.tree.size.width)
            bars.append(sum("▰" in row or "▱" in row for row in tree_rows(app)))
        assert widths[0] < widths[1] < widths[2] and widths[2] >= 78
        assert not detail.display and detail.region.width == 0
        assert bars[0] < bars[2]  # the room the pane gave back shows the score bars again
        await pilot.press("d")
        await pilot.pause(0.2)
        assert detail.display and screen.tree.size.width == widths[0]
    assert "explorer.detail" in binding_ids(TrajscopeApp)  # the settings keymap can rebind it


async def test_the_detail_key_rebound_in_the_settings_file(tmp_path, monkeypatch):
    settings = tmp_path / "settings.toml"
    settings.write_text('[keymap]\n"explorer.detail" = "ctrl+w"\n', encoding="utf-8")
    monkeypatch.setenv("TRAJSCOPE_SETTINGS", str(settings))
    app = TrajscopeApp(Source(DEMO_RUN), theme="trajscope-dark")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await explorer(pilot)
        await pilot.press("ctrl+w")
        await pilot.pause(0.2)
        assert screen.detail == "narrow"
        assert any("^w Detail" in line for line in screen_lines(app)[-1:])


def test_the_footer_keeps_only_binding_ids_there_are():
    assert set(KEEP) <= set(binding_ids(TrajscopeApp))


@pytest.mark.parametrize("width", [80, 100])
async def test_the_live_footer_keeps_quit_submit_budget_and_follow(tmp_path, width):
    session = demo_session(tmp_path, nodes=30, pause_at=3)
    try:
        app = app_for(session)
        async with app.run_test(size=(width, 24)) as pilot:
            await wait_for(pilot, lambda: app.screen.model is not None, 30)
            await settled(pilot, session)
            footer = screen_lines(app)[-1]
            for shown in ("q Quit", "s Submit", "+ Budget", "f Follow", "? Help", "space "):
                assert shown in footer, footer
    finally:
        session.close()


async def test_the_explorer_footer_keeps_quit_and_help_at_80_columns():
    app = TrajscopeApp(Source(DEMO_RUN), theme="trajscope-dark")
    async with app.run_test(size=(80, 24)) as pilot:
        await explorer(pilot)
        footer = screen_lines(app)[-1]
        assert "q Quit" in footer and "? Help" in footer, footer


async def test_the_fleet_columns_follow_the_width(tmp_path):
    """ "verdict" and "why" were cut to `resolve` and `sea` beside 100 empty columns."""
    fleet = still_fleet(tmp_path)
    try:
        app = TrajscopeApp(FleetSource(fleet, tmp_path / "out"), theme="trajscope-dark")
        async with app.run_test(size=(200, 30)) as pilot:
            await pilot.pause(0.6)
            text = "\n".join(screen_lines(app))
            for whole in ("resolved", FINISHED_WHY, FAILED_WHY):
                assert whole in text
            for width in (80, 100):
                await pilot.resize_terminal(width, 24)
                await pilot.pause(0.3)
                table = app.screen.query_one("#fleet-table")
                assert table.virtual_size.width <= width
                lines = screen_lines(app)
                header = next(line for line in lines if " state " in line)
                assert {"run", "state", "verdict", "why"} <= set(header.split())
                assert any(" resolved " in line for line in lines)
    finally:
        fleet.close()


@pytest.mark.parametrize("width", [80, 100])
async def test_the_runs_screen_keeps_verdict_cost_and_tokens_on_screen(tmp_path, width):
    root = runs_folder(tmp_path)
    app = TrajscopeApp(RunsSource(Path("batch"), find_runs(root), find_verdicts(root)), theme="trajscope-dark")
    async with app.run_test(size=(width, 20)) as pilot:
        await wait_for(
            pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.read == len(app.screen.rows), 60
        )
        await pilot.pause(0.3)
        table = app.screen.query_one("#runs")
        assert table.virtual_size.width <= width
        header = screen_lines(app)[0].split()
        assert {"run", "steps", "verdict", "cost", "tokens"} <= set(header), header
        assert any("$0.0000" in line and "resolved" in line for line in screen_lines(app))
        await pilot.press("s")  # a sort puts the rows back under the same columns
        await pilot.pause(0.2)
        assert {"verdict", "cost", "tokens"} <= set(screen_lines(app)[0].split())
