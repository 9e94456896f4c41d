"""The action tree while a large file is read in parts: lines are made where they are seen,
the rest when they scroll into view or once the file is read, and the lines then are those
of the whole tree. Making every line as it was read made each frame list them all again: the
rest of a 330,000-step file took ten times as long as reading and folding it."""

from __future__ import annotations

import threading

import pytest

from trajscope.engine.events import write_events
from trajscope.engine.formats import progressive
from trajscope.engine.synthetic import linear_events, synthetic_events
from trajscope.engine.tree import ROOT
from tests.functional.helpers import wait_for
from trajscope.tui import bridge
from trajscope.tui.app import TrajscopeApp
from trajscope.tui.bridge import Source

SIZE = (140, 40)


@pytest.fixture
def small_parts(monkeypatch):
    monkeypatch.setattr(progressive, "FIRST_BYTES", 16 << 10)
    monkeypatch.setattr(progressive, "BLOCK_BYTES", 32 << 10)


def assert_lines_follow_the_tree(tree) -> None:
    """Every line made is where the whole tree puts it: a container's lines are the first of
    its view children, all of them once it is filled, and a line can unfold where it has some."""
    for node_id, tnode in tree._tnodes.items():
        children = tree.view_children(node_id)
        made = [child.data for child in tnode.children]
        assert made == children[: len(made)], f"the lines under #{node_id} are not the tree's"
        if node_id in tree._populated:
            assert made == children, f"#{node_id} is marked filled but misses lines"
        if node_id != ROOT:
            assert tnode.allow_expand == bool(children), f"#{node_id} unfolds wrongly"


async def read_with_a_watch(pilot, watch) -> None:
    """Call ``watch`` between frames until the file is read."""
    app = pilot.app
    await wait_for(pilot, lambda: getattr(app.screen, "model", None) is not None and not app.screen.tree.loading)
    while app.screen.reader is not None:
        watch(app.screen)
        await pilot.pause(0.01)


async def test_while_a_branching_file_is_read_only_lines_on_screen_are_made(tmp_path, small_parts):
    path = tmp_path / "branching.jsonl"
    write_events(path, synthetic_events(3000, seed=1))
    app = TrajscopeApp(Source(path))
    made: list[int] = []
    async with app.run_test(size=SIZE) as pilot:
        await read_with_a_watch(pilot, lambda screen: made.append(len(screen.tree._tnodes)))
        screen, tree = app.screen, app.screen.tree
        assert made, "the file was read in parts, with frames between them"
        # A screenful at the start, one more as containers on screen grow, and the branches
        # formed on lines already made: a few screenfuls, never the lines read below the screen.
        assert max(made) <= 4 * SIZE[1], max(made)
        await wait_for(pilot, lambda: not tree._deferred and not screen.workers)
        assert_lines_follow_the_tree(tree)
        for node_id in list(screen.model.nodes)[1::97]:
            assert tree.reveal(node_id) and tree.cursor_id == node_id, f"#{node_id} cannot be reached"
        assert_lines_follow_the_tree(tree)


async def test_lines_scrolled_into_view_while_the_file_is_read_come_at_once(tmp_path, small_parts, monkeypatch):
    gate = threading.Event()
    read_parts = progressive.read_parts

    def held_parts(path):  # the first two parts, then nothing until the test lets it go on
        parts = read_parts(path)
        yield next(parts)
        yield next(parts)
        gate.wait(30)
        yield from parts

    monkeypatch.setattr(bridge, "read_parts", held_parts)
    path = tmp_path / "long.jsonl"
    write_events(path, linear_events(600))
    app = TrajscopeApp(Source(path))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(
                pilot, lambda: getattr(app.screen, "model", None) is not None and not app.screen.tree.loading
            )
            screen, tree = app.screen, app.screen.tree
            await wait_for(pilot, lambda: not len(screen.pump))  # the second part is folded
            read = len(screen.model)
            first = len(tree._tnodes)
            assert screen.reader is not None and first < read, "lines below the screen wait"
            tree.cursor_line = tree.last_line  # the last line made comes into view
            tree.scroll_to_line(tree.cursor_line, animate=False)
            await wait_for(pilot, lambda: len(tree._tnodes) > first)
            await pilot.press("j", "j", "j")  # and the cursor goes on down past it
            await wait_for(pilot, lambda: int(tree.cursor_id) >= first + 2)
            assert screen.reader is not None, "still reading: the lines came as they scrolled into view"
            assert_lines_follow_the_tree(tree)
            gate.set()
            await wait_for(pilot, lambda: screen.reader is None and ROOT in tree._populated)
            assert len(tree._tnodes) == 601
            assert_lines_follow_the_tree(tree)
    finally:
        gate.set()
