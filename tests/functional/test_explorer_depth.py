"""The explorer on one long path: a run that never branched is one chain of lines, and what
it costs must follow what is drawn, not how many steps the chain has."""

from __future__ import annotations

from trajscope.engine.events import write_events
from trajscope.engine.synthetic import linear_events
from trajscope.engine.tree import ROOT
from tests.functional.helpers import static_text, wait_for
from trajscope.tui.app import TrajscopeApp
from trajscope.tui.bridge import Source
from trajscope.tui.widgets.node_detail import NodeDetail

SIZE = (140, 40)
STEPS = 5000


async def test_a_long_single_path_goes_to_its_last_step_and_labels_only_the_lines_drawn(tmp_path):
    path = tmp_path / "long.jsonl"
    write_events(path, linear_events(STEPS))
    app = TrajscopeApp(Source(path))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: getattr(app.screen, "model", None) is not None and app.screen.reader is None)
        screen, tree = app.screen, app.screen.tree
        assert screen.model.max_depth == STEPS
        await wait_for(pilot, lambda: ROOT in tree._populated)  # every step has its line
        assert len(tree._tnodes) == STEPS + 1
        await pilot.press("G")
        await wait_for(pilot, lambda: tree.cursor_id == str(STEPS))
        await pilot.pause()
        header = static_text(screen.query_one(NodeDetail).query_one("#detail-header"))
        assert f"depth {STEPS}" in header
        await pilot.press("k")
        await wait_for(pilot, lambda: tree.cursor_id == str(STEPS - 1))
        # labels exist for the first screenful and the lines the cursor went to, not for every step
        assert 0 < len(tree._fitted) < 1000, len(tree._fitted)
        assert tree.cursor_node.label.plain.strip(), "the line the cursor is on was drawn with its label"


async def test_the_flags_cache_comes_after_the_first_frame_and_no_deep_path_is_walked_without_it(tmp_path):
    path = tmp_path / "long.jsonl"
    write_events(path, linear_events(3000))
    app = TrajscopeApp(Source(path))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: getattr(app.screen, "model", None) is not None and app.screen.reader is None)
        screen = app.screen
        # made once the first frame was drawn, and every checkpoint built in the background
        await wait_for(pilot, lambda: screen.flag_cache is not None and not screen.flag_cache.building)
        detail, deep = screen.query_one(NodeDetail), screen.model.nodes["3000"]
        # what a detail drawn before the cache says of a deep node (no walk on the UI thread)
        before = detail._flags(screen.model, deep, None)
        assert before is not None and "worked out in the background" in before.plain
        after = detail._flags(screen.model, deep, screen.flag_cache)
        assert after is None or "worked out" not in after.plain
