"""SVG snapshots of the live app: a real Session with the demo policy (one worker, so the same
tree every time), paused at a fixed size. Timings are set to fixed values before the shot.
Review changes to them; never update blindly."""

from __future__ import annotations

import pytest

from trajscope.engine.tree import ROOT
from tests.functional.helpers import wait_for
from tests.functional.live_helpers import app_for, demo_session, settled
from trajscope.tui.screens.submit import SubmitScreen

pytestmark = pytest.mark.slow

SIZE = (130, 36)


@pytest.fixture
def session(tmp_path):
    session = demo_session(tmp_path, nodes=60, pause_at=10)
    yield session
    session.close()


async def ready(pilot, session) -> None:
    screen = pilot.app.screen
    await wait_for(pilot, lambda: screen.model is not None, 30)
    await settled(pilot, session)
    for node in [*screen.model.nodes.values(), *session.tree.nodes.values()]:
        node.duration_s = 0.1 if node.duration_s is not None else None
        if node.verified:
            node.verified["duration_s"] = 1.0
    screen.tree.relabel_all()


def quiet_node(session, kind=None):
    """A node whose observation holds no temporary path (those differ from run to run)."""
    return [
        n.id
        for n in session.tree.nodes.values()
        if n.id != ROOT
        and "/tmp/" not in n.observation
        and n.exit_code is not None
        and (kind is None or n.kind == kind)
    ]


def test_live_explorer_mid_search(snap_compare, session):
    async def run_before(pilot):
        await ready(pilot, session)
        pilot.app.screen.tree.reveal(quiet_node(session, "edit")[0])
        await pilot.pause(0.2)

    assert snap_compare(app_for(session), terminal_size=SIZE, run_before=run_before)


def test_live_submit_screen(snap_compare, session):
    async def run_before(pilot):
        await ready(pilot, session)
        target = next(n for n in quiet_node(session) if session.tree.nodes[n].patch)
        pilot.app.screen.tree.reveal(target)
        await pilot.press("s")
        await wait_for(pilot, lambda: session.tree.nodes[target].verified is not None, 60)
        session.tree.nodes[target].verified["duration_s"] = 1.0
        screen = pilot.app.screen
        assert isinstance(screen, SubmitScreen)
        screen.shown_verdict = None  # show the verdict again, with the fixed duration
        await wait_for(pilot, lambda: screen.shown_verdict is not None)
        await pilot.pause(0.2)

    assert snap_compare(app_for(session), terminal_size=SIZE, run_before=run_before)


def test_live_compare_screen(snap_compare, session):
    async def run_before(pilot):
        await ready(pilot, session)
        a, b = quiet_node(session)[:2]
        pilot.app.screen.tree.reveal(a)
        await pilot.press("c")
        pilot.app.screen.tree.reveal(b)
        await pilot.press("c")
        await pilot.pause(0.3)

    assert snap_compare(app_for(session), terminal_size=SIZE, run_before=run_before)


def test_live_resample_dialog(snap_compare, session):
    async def run_before(pilot):
        await ready(pilot, session)
        pilot.app.screen.tree.reveal(quiet_node(session, "edit")[0])
        await pilot.press("r")
        await pilot.press(*"the unit table")
        for field in pilot.app.screen.query("Input"):
            field.cursor_blink = False  # a blinking cursor differs from shot to shot
        await pilot.pause(0.3)

    assert snap_compare(app_for(session), terminal_size=SIZE, run_before=run_before)


def test_live_help(snap_compare, session):
    async def run_before(pilot):
        await ready(pilot, session)
        pilot.app.screen.tree.reveal(ROOT)
        await pilot.press("question_mark")
        await pilot.pause(0.3)

    assert snap_compare(app_for(session), terminal_size=SIZE, run_before=run_before)
