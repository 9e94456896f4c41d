"""SVG snapshots of the explorer. Review changes to them; never update blindly."""

from __future__ import annotations

from tests.conftest import DEMO_RUN
from tests.functional.helpers import wait_for
from trajscope.tui.app import TrajscopeApp
from trajscope.tui.bridge import Source

SIZE = (130, 36)


def app(theme: str = "trajscope-dark") -> TrajscopeApp:
    return TrajscopeApp(Source(DEMO_RUN), theme=theme)


async def loaded_at(pilot, node_id: str | None = None) -> None:
    await wait_for(pilot, lambda: pilot.app.screen.model is not None and not pilot.app.screen.tree.loading)
    if node_id:
        pilot.app.screen.tree.reveal(node_id)
    await pilot.pause()


def test_explorer(snap_compare):
    async def run_before(pilot):
        await loaded_at(pilot, "3")

    assert snap_compare(app(), terminal_size=SIZE, run_before=run_before)


def test_detail_with_diff(snap_compare):
    async def run_before(pilot):
        await loaded_at(pilot, "6")

    assert snap_compare(app(), terminal_size=SIZE, run_before=run_before)


def test_help(snap_compare):
    async def run_before(pilot):
        await loaded_at(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(app(), terminal_size=SIZE, run_before=run_before)


def test_light_theme(snap_compare):
    async def run_before(pilot):
        await loaded_at(pilot, "7")

    assert snap_compare(app("trajscope-light"), terminal_size=SIZE, run_before=run_before)
