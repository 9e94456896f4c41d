"""Pilot tests of the explorer against real run logs."""

from __future__ import annotations

import threading

import orjson
import pytest

from trajscope.engine.events import RunLog, make_event, write_events
from trajscope.engine.synthetic import synthetic_events
from tests.conftest import DEMO_RUN, REAL
from tests.functional.helpers import static_text, visible_ids, wait_for
from trajscope.tui.app import TrajscopeApp
from trajscope.tui.bridge import Source
from trajscope.tui.screens.help import HelpScreen
from trajscope.tui.screens.observation import ObservationScreen
from trajscope.tui.widgets.node_detail import NodeDetail
from trajscope.tui.widgets.status_bar import StatusBar
from trajscope.tui.widgets.text_viewer import TextViewer

SIZE = (140, 40)


async def opened(pilot):
    def whole() -> bool:  # the whole file is in the tree (a large one is read in parts after its first screenful)
        screen = pilot.app.screen
        return getattr(screen, "model", None) is not None and not screen.tree.loading and screen.reader is None

    await wait_for(pilot, whole)
    return pilot.app.screen


async def press_text(pilot, text: str) -> None:
    for ch in text:
        await pilot.press(ch)


async def test_keyboard_navigation_and_folding():
    app = TrajscopeApp(Source(DEMO_RUN))
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        tree = screen.tree
        assert tree.cursor_id == "root"
        await pilot.press("j")
        assert tree.cursor_id == "1"
        await pilot.press("down", "j")
        assert tree.cursor_id == "3"
        await pilot.press("k", "up")
        assert tree.cursor_id == "1"
        node = tree.cursor_node
        assert node.is_expanded
        await pilot.press("h")  # fold
        assert not node.is_expanded and tree.cursor_id == "1"
        await pilot.press("l")  # unfold
        assert node.is_expanded
        await pilot.press("l")  # into the first child
        assert tree.cursor_id == "2"
        await pilot.press("h")  # "2" holds its chain: fold it first
        assert tree.cursor_id == "2" and not tree.cursor_node.is_expanded
        await pilot.press("h")  # then to the parent
        assert tree.cursor_id == "1"
        await pilot.press("enter")
        assert not node.is_expanded
        await pilot.press("enter")
        assert node.is_expanded


async def test_goto_best_leaf_and_sibling_branches():
    app = TrajscopeApp(Source(DEMO_RUN))
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        tree = screen.tree
        await pilot.press("g")
        await press_text(pilot, "12")
        await pilot.press("enter")
        assert tree.cursor_id == "12"
        await pilot.press("g")
        await press_text(pilot, "#999")
        await pilot.press("enter")
        await pilot.pause()
        assert tree.cursor_id == "12"
        assert any("no node #999" in n.message for n in app._notifications)
        await pilot.press("b")
        assert tree.cursor_id == "6"  # the resolved submission scores best
        await pilot.press("g")
        await press_text(pilot, "8")
        await pilot.press("enter")
        await pilot.press("left_square_bracket")
        assert tree.cursor_id == "4"  # head of the sibling branch
        await pilot.press("right_square_bracket")
        assert tree.cursor_id == "7"


async def test_detail_shows_action_observation_and_diff():
    app = TrajscopeApp(Source(DEMO_RUN))
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        screen.tree.reveal("3")
        await pilot.pause()
        detail = screen.query_one(NodeDetail)
        observation = str(detail.query_one("#detail-observation").render())
        assert "1 failed, 2 passed" in observation
        assert "\x1b" not in observation  # ANSI codes removed
        assert not detail.query_one("#detail-diff").display
        screen.tree.reveal("6")
        await pilot.pause()
        assert detail.query_one("#detail-diff").display
        assert "verified: resolved" in str(detail.query_one("#detail-meta").render())


@pytest.mark.slow
async def test_search_steps_through_matches():
    app = TrajscopeApp(Source(DEMO_RUN))
    async with app.run_test(size=SIZE, notifications=True) as pilot:  # toasts drawn, as in a terminal
        screen = await opened(pilot)
        await pilot.press("slash")
        await press_text(pilot, "repro")
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.matches)
        assert screen.matches == ["3", "13", "14"]  # #3's thought says "Reproduce"
        assert screen.tree.cursor_id == "3"
        await pilot.press("n")
        assert screen.tree.cursor_id == "13"
        await pilot.press("n", "n")
        assert screen.tree.cursor_id == "3"
        await pilot.press("N")
        assert screen.tree.cursor_id == "14"
        await pilot.press("slash")
        await press_text(pilot, "no such text anywhere")
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert any("No node mentions" in n.message for n in app._notifications)
        for query in ("[/b]", "[red]x"):  # what a person types is text, not markup
            await pilot.press("slash")
            await press_text(pilot, query)
            await pilot.press("enter")
            await wait_for(pilot, lambda: any(query in n.message for n in app._notifications))
            await pilot.pause(0.3)  # the toast is drawn
            assert app.is_running and app.return_code is None
        toasts = " ".join(str(t.render()) for t in app.screen.query("Toast"))
        assert "“[/b]”" in toasts and "“[red]x”" in toasts, toasts


async def test_help_palette_and_theme():
    app = TrajscopeApp(Source(DEMO_RUN))
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        descriptions = [d for _, d in app.screen.rows]
        for expected in ("Search", "Go to node", "Best leaf", "Previous branch", "Theme", "Commands"):
            assert expected in descriptions
        # each key once, with what it runs here: the tree's enter and space fold (not Tree's
        # "Select"/"Toggle"), its arrows move the cursor (not the containers' "Scroll Up")
        keys = [k for k, _ in app.screen.rows for k in k.split(", ")]
        assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)
        rows = dict(app.screen.rows)
        assert rows["⏎, space"] == "Fold / unfold" and rows["k, ↑"] == "Up" and rows["q, ^c, ^q"] == "Quit"
        assert not {"Select", "Toggle", "Scroll Up", "Scroll Home"} & set(descriptions)
        assert "^c too, where text is selected" in rows["super+c"]
        legend = static_text(app.screen.query_one("#help-body Static"), width=160)
        assert "the indent grows only where a node has two or more children" in " ".join(legend.split())
        await pilot.press("escape")
        assert app.screen is screen
        await pilot.press("ctrl+p")
        await press_text(pilot, "best leaf")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.tree.cursor_id == "6")
        assert app.theme == "trajscope-dark"
        await pilot.press("t")
        assert app.theme == "trajscope-light"
        assert app.current_theme.variables["reward-high"] == "#1a7f37"


@pytest.mark.parametrize("theme", ["trajscope-dark", "trajscope-light"])
async def test_a_theme_chosen_at_start_colors_the_first_frame(theme):
    """The theme is set before the app runs, and its first stylesheet is parsed with that
    theme's variables (no second parse): the tree's background is the theme's surface from the
    first frame, also for a theme other than Textual's default."""
    from textual.color import Color

    app = TrajscopeApp(Source(DEMO_RUN), theme=theme)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        assert app.theme == theme
        surface = Color.parse(app.current_theme.surface)
        assert screen.tree.styles.background == surface
        assert app.stylesheet._variables == app.get_css_variables()
        await pilot.press("t")  # a change while it runs goes through Textual's own refresh
        await pilot.pause(0.2)
        assert app.theme != theme
        assert screen.tree.styles.background == Color.parse(app.current_theme.surface) != surface


@pytest.mark.slow
async def test_long_observation_is_truncated_and_viewable(tmp_path):
    huge = "".join(f"line {i} \x1b[31mred\x1b[0m \x00\n" for i in range(400_000))  # ~10 MB
    assert len(huge) > 9_000_000
    path = tmp_path / "big.jsonl"
    write_events(
        path,
        [
            make_event("run_started", "big", task={"instance_id": "big"}, config={}),
            make_event(
                "node_added",
                "big",
                id="1",
                parent=None,
                action={"tool": "bash", "args": {"command": "cat log"}, "raw": "cat log"},
            ),
            make_event("node_executed", "big", id="1", observation=huge, exit_code=0),
        ],
    )
    app = TrajscopeApp(Source(path))
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        screen.tree.reveal("1")
        await pilot.pause()
        note = str(screen.query_one("#detail-truncated").render())
        assert "press o to see all of it" in note
        assert len(str(screen.query_one("#detail-observation").render())) < 10_000
        await pilot.press("o")
        assert isinstance(app.screen, ObservationScreen)
        viewer = app.screen.query_one(TextViewer)
        await wait_for(pilot, lambda: len(viewer.lines) > 399_000)
        assert viewer.lines[0] == "line 0 red "
        await pilot.press("G")
        await pilot.pause()
        assert viewer.scroll_offset.y > 390_000
        await pilot.press("escape")
        assert app.screen is screen


async def test_large_tree_creates_tree_nodes_only_for_expanded_parts(tmp_path):
    path = tmp_path / "big.jsonl"
    write_events(path, synthetic_events(5000, seed=1))
    app = TrajscopeApp(Source(path))
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        tree = screen.tree
        assert len(screen.model) == 5000
        assert len(tree._tnodes) < 1000
        deepest = max(screen.model.nodes.values(), key=lambda n: n.depth).id
        assert tree.reveal(deepest)
        await pilot.pause()
        assert tree.cursor_id == deepest
        assert len(tree._tnodes) < 5000


async def test_follow_shows_nodes_as_a_writer_appends(tmp_path):
    path = tmp_path / "live.jsonl"
    log = RunLog(path, run="live")
    log.append({"type": "run_started", "task": {"instance_id": "live"}, "config": {}})
    log.append(
        {
            "type": "node_added",
            "id": "1",
            "parent": None,
            "action": {"tool": "bash", "args": {"command": "ls"}, "raw": "ls"},
        }
    )
    app = TrajscopeApp(Source(path, follow=True))
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        assert len(screen.model) == 1
        stop = threading.Event()

        def writer():
            # a chain, then a branch at node 3, then more on both branches
            parents = {"2": "1", "3": "2", "4": "3", "5": "4", "6": "3", "7": "6", "8": "5"}
            for node_id, parent in parents.items():
                if stop.wait(0.05):
                    return
                log.append(
                    {
                        "type": "node_added",
                        "id": node_id,
                        "parent": parent,
                        "action": {"tool": "bash", "args": {"command": f"step {node_id}"}, "raw": ""},
                    }
                )
                log.append({"type": "node_scored", "id": node_id, "scorer": "builtin", "score": 0.5})

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            await wait_for(pilot, lambda: len(screen.model) == 8)
            await pilot.pause(0.2)
        finally:
            stop.set()
            thread.join()
            log.close()
        assert visible_ids(screen.tree) == ["root", "1", "2", "3", "4", "5", "8", "6", "7"]
        assert "nodes 8" in str(screen.query_one(StatusBar).render())


async def test_replay_grows_the_same_tree_as_a_plain_open():
    app = TrajscopeApp(Source(DEMO_RUN))
    async with app.run_test(size=SIZE) as pilot:
        static = visible_ids((await opened(pilot)).tree)
    app = TrajscopeApp(Source(DEMO_RUN, replay=40))
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        await wait_for(pilot, lambda: len(screen.model) >= 3)
        assert len(screen.model) < 15  # still growing
        await wait_for(pilot, lambda: screen.model.finished is not None, timeout=20)
        await pilot.pause(0.2)
        assert visible_ids(screen.tree) == static
        assert "replay finished" in str(screen.query_one(StatusBar).render())


@pytest.mark.parametrize("name", ["edit.prev.root"])
async def test_real_dars_tree_opens_with_its_branch(name):
    app = TrajscopeApp(Source(REAL / "dars" / name))
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        ids = visible_ids(screen.tree)
        assert len(ids) == 23  # the root and 22 turns, all expanded in a small tree
        branch_point = next(n for n in screen.model.nodes if screen.model.n_children(n) > 1)
        heads = [t.data for t in screen.tree._tnodes[branch_point].children]
        assert heads == screen.model.children(branch_point)


async def test_unreadable_file_ends_the_app_with_a_sentence(tmp_path):
    path = tmp_path / "cut.traj"
    path.write_bytes(orjson.dumps({"trajectory": []})[:-3])
    app = TrajscopeApp(Source(path))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.return_code is not None)
    assert app.return_code == 2
    assert "truncated or invalid JSON" in app.load_error


async def test_detail_lists_the_branch_flags_with_their_steps():
    from tests.functional.helpers import static_text

    app = TrajscopeApp(Source(DEMO_RUN))
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        screen.tree.reveal("9")  # submitted with its tests failing
        await pilot.pause()
        flags = static_text(screen.query_one("#detail-flags"))
        assert "overconfidence" in flags and "(#8, #9)" in flags
        screen.tree.reveal("2")  # a view at the start of the run: nothing to flag
        await pilot.pause()
        assert not screen.query_one("#detail-flags").display


async def test_submit_and_detail_of_a_node_below_an_edit_show_the_state_patch(tmp_path):
    """#14 runs a script after #13 created it: its own step changed nothing, but its state
    holds the new file, and that is what submitting or exporting it gives."""
    from trajscope.tui.screens.submit import SubmitScreen

    app = TrajscopeApp(Source(DEMO_RUN))
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        await pilot.press("g")
        await press_text(pilot, "14")
        await pilot.press("enter")
        assert screen.tree.cursor_id == "14"
        await pilot.pause()
        detail = screen.query_one(NodeDetail)
        assert "repro.py" in static_text(detail.query_one("#detail-diff"))
        app.push_screen(SubmitScreen(screen.model, "14"))  # what s opens in a live search
        await wait_for(pilot, lambda: isinstance(app.screen, SubmitScreen))
        await pilot.pause()
        shown = static_text(app.screen.query_one("#submit-patch"))
        assert "repro.py" in shown and "changed nothing" not in shown and "base state" not in shown


async def test_an_edit_reads_as_a_diff_and_a_shows_its_raw_json():
    app = TrajscopeApp(Source(DEMO_RUN))
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        await pilot.press("g")
        await press_text(pilot, "4")
        await pilot.press("enter")
        await pilot.pause()
        action = screen.query_one(NodeDetail).query_one("#detail-action")
        shown = static_text(action)
        assert "str_replace calc/ops.py" in shown and '+        raise CalcError("cannot divide by zero")' in shown
        assert "\\n" not in shown
        await pilot.press("a")
        await pilot.pause()
        raw = static_text(action)
        assert '"tool": "str_replace"' in raw and '"old": ' in raw and "\\n" in raw
        await pilot.press("a")
        await pilot.pause()
        assert static_text(action) == shown


async def test_last_and_first_line_keys():
    app = TrajscopeApp(Source(DEMO_RUN))
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        tree = screen.tree
        await pilot.press("G")
        await pilot.pause()
        assert tree.cursor_line == tree.last_line > 0
        assert "#" + tree.cursor_id in static_text(screen.query_one(NodeDetail).query_one("#detail-header"))
        await pilot.press("home")
        await pilot.pause()
        assert tree.cursor_line == 0 and tree.cursor_id == "root"
