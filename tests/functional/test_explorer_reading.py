"""The explorer on a file still being read: its first screenful is shown, the status bar
says how much is read, and keys that need the whole tree (G, search, go to, best leaf)
wait for it and say so. The reader is held after its first part, so what happens before
the end is seen every time."""

from __future__ import annotations

import threading

import pytest

from trajscope.engine.events import write_events
from trajscope.engine.formats import load, progressive
from trajscope.engine.synthetic import linear_events
from trajscope.engine.tree import ROOT, Tree
from tests.functional.helpers import static_text, wait_for
from trajscope.tui import bridge
from trajscope.tui.app import TrajscopeApp
from trajscope.tui.bridge import Source
from trajscope.tui.widgets.prompt_bar import PromptBar
from textual import events
from trajscope.tui.widgets.status_bar import StatusBar

SIZE = (140, 40)
STEPS = 600


@pytest.fixture
def held(monkeypatch):
    """The reader stops after its first part until the test lets it go on."""
    gate = threading.Event()
    read_parts = progressive.read_parts

    def held_parts(path):
        parts = read_parts(path)
        yield next(parts)
        gate.wait(30)
        yield from parts

    monkeypatch.setattr(progressive, "FIRST_BYTES", 16 << 10)
    monkeypatch.setattr(bridge, "read_parts", held_parts)
    yield gate
    gate.set()


async def ask(pilot, key: str, text: str) -> None:
    """Open the prompt with ``key`` and answer ``text`` (pasted once the prompt has the focus:
    while the file is read the app is never idle, and the test's pilot waits up to 1 s a key
    for it to be)."""
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(pilot.app.focused, PromptBar))
    prompt = pilot.app.focused
    prompt.post_message(events.Paste(text))
    await wait_for(pilot, lambda: prompt.value == text)
    await pilot.press("enter")


def notices(app) -> str:
    return " | ".join(str(n.message) for n in app._notifications)


async def opened_first_part(pilot):
    app = pilot.app
    await wait_for(pilot, lambda: getattr(app.screen, "model", None) is not None and not app.screen.tree.loading)
    screen = app.screen
    assert screen.reader is not None and 0 < len(screen.model) - 1 < STEPS  # the first part only
    return screen


async def test_g_and_go_to_wait_for_the_whole_file_and_say_so(tmp_path, held):
    path = tmp_path / "long.jsonl"
    write_events(path, linear_events(STEPS))
    app = TrajscopeApp(Source(path))
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened_first_part(pilot)
        tree = screen.tree
        assert "reading" in static_text(screen.query_one(StatusBar)), "the status bar says the file is being read"
        before = tree.cursor_id
        await pilot.press("G")
        await wait_for(pilot, lambda: "Still reading the file" in notices(app))
        assert tree.cursor_id == before, "G did not stop at the last step read so far"
        held.set()
        await wait_for(pilot, lambda: tree.cursor_id == str(STEPS))  # G, once the file is read
        assert "reading" not in static_text(screen.query_one(StatusBar))

    app = TrajscopeApp(Source(path))
    held.clear()
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened_first_part(pilot)
        await ask(pilot, "g", "#500")
        await wait_for(pilot, lambda: "#500 is not read yet" in notices(app))
        assert "There is no node" not in notices(app)
        held.set()
        await wait_for(pilot, lambda: screen.tree.cursor_id == "500")


async def test_a_search_before_the_end_searches_the_whole_file(tmp_path, held):
    path = tmp_path / "long.jsonl"
    write_events(path, linear_events(STEPS))
    app = TrajscopeApp(Source(path))
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened_first_part(pilot)
        await ask(pilot, "slash", "step 599")
        await wait_for(pilot, lambda: "the search runs when it is read" in notices(app))
        assert screen.matches == []
        held.set()
        await wait_for(pilot, lambda: screen.matches != [])
        whole = Tree.fold(load(path).events)
        assert screen.matches == [m for m in whole.search("step 599") if m != ROOT]
        assert "599" in screen.matches


async def test_nothing_is_lost_at_the_end_of_a_read_in_parts(tmp_path, monkeypatch):
    monkeypatch.setattr(progressive, "FIRST_BYTES", 16 << 10)
    monkeypatch.setattr(progressive, "BLOCK_BYTES", 64 << 10)
    path = tmp_path / "long.jsonl"
    write_events(path, linear_events(STEPS))
    app = TrajscopeApp(Source(path))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: getattr(app.screen, "model", None) is not None and app.screen.reader is None)
        model, tree = app.screen.model, app.screen.tree
        whole = Tree.fold(load(path).events)
        assert [(n.id, n.parent, n.status, n.observation) for n in model.nodes.values()] == [
            (n.id, n.parent, n.status, n.observation) for n in whole.nodes.values()
        ]
        await wait_for(pilot, lambda: ROOT in tree._populated)
        assert len(tree._tnodes) == STEPS + 1, "every step read after the first part has its line"


async def test_a_file_damaged_past_its_first_part_keeps_what_was_read_and_says_where_it_stopped(tmp_path, monkeypatch):
    import json

    from tests.unit.test_progressive import mini_document

    monkeypatch.setattr(progressive, "FIRST_BYTES", 16 << 10)
    monkeypatch.setattr(progressive, "BLOCK_BYTES", 32 << 10)
    path = tmp_path / "cut.traj.json"
    text = json.dumps(mini_document(300), indent=2)
    path.write_text(text[: len(text) * 2 // 3])
    app = TrajscopeApp(Source(path))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: getattr(app.screen, "model", None) is not None and app.screen.reader is None)
        screen = app.screen
        assert app.is_running and len(screen.model) > 1, "what was read stays on screen"
        assert "truncated or invalid JSON" in notices(app)
        assert "read stopped at" in static_text(screen.query_one(StatusBar))


async def test_quitting_does_not_list_every_line_again(tmp_path):
    # Textual's tree lists its lines again when idle; on a path of 100,000 steps that took
    # seconds of the time to quit, for a frame nobody sees.
    path = tmp_path / "long.jsonl"
    write_events(path, linear_events(300))
    app = TrajscopeApp(Source(path))
    builds: list[bool] = []
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: getattr(app.screen, "model", None) is not None and app.screen.reader is None)
        tree = app.screen.tree
        original = tree._build

        def counted() -> None:
            builds.append(app.is_running)
            original()

        tree._build = counted
        tree._invalidate()
        app.exit()
    assert False not in builds, "the lines were listed again while quitting"


async def test_the_first_frame_shows_the_steps_not_a_loading_frame(tmp_path, monkeypatch):
    # The first part comes a little after the screen is mounted (a slow disk, a busy machine):
    # the screen waits for it a bounded while, so the first frame drawn is the tree, and the
    # action is coloured the frame after (pygments is not loaded for the first one).
    import time

    from rich.syntax import Syntax

    from trajscope.tui.screens.explorer import ExplorerScreen

    read_parts, on_mount, mounted = progressive.read_parts, ExplorerScreen.on_mount, threading.Event()

    def slow_parts(path):  # the first part comes 50 ms after the screen is mounted
        mounted.wait(10)
        time.sleep(0.05)
        yield from read_parts(path)

    def mounting(screen) -> None:
        mounted.set()
        on_mount(screen)

    monkeypatch.setattr(bridge, "read_parts", slow_parts)
    monkeypatch.setattr(ExplorerScreen, "on_mount", mounting)
    path = tmp_path / "long.jsonl"
    write_events(path, linear_events(50))
    app = TrajscopeApp(Source(path))
    frames: list[bool] = []
    display = app._display

    def counted(screen, renderable) -> None:
        if renderable is not None:
            frames.append(getattr(screen, "model", None) is not None)
        display(screen, renderable)

    app._display = counted
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: getattr(app.screen, "model", None) is not None and app.screen.reader is None)
        assert frames and frames[0], "the first frame drawn shows the file's steps"
        detail = app.screen.query_one("#detail")
        action = app.screen.query_one("#detail-action")
        await pilot.press("down")  # the first step (the cursor starts on the task)
        await wait_for(pilot, lambda: app.screen.tree.cursor_id == "1")
        await wait_for(pilot, lambda: isinstance(action.content, Syntax))
        shown = app.screen.model.nodes[app.screen.tree.cursor_id]
        other = app.screen.model.nodes["2" if shown.id != "2" else "3"]
        detail.show(other, app.screen.model)
        own = static_text(action)
        detail._colour(shown, "ansi_dark")  # a colouring queued for a node the cursor has left
        assert static_text(action) == own and other.action["raw"].split()[0] in own, "the node shown keeps its action"


async def test_what_start_up_built_is_frozen_while_the_app_runs_and_released_when_it_ends(tmp_path):
    # The collector does not walk the imported modules again during the first frames; a
    # process that runs apps in turn keeps nothing frozen of the one before.
    import gc

    path = tmp_path / "short.jsonl"
    write_events(path, linear_events(20))
    app = TrajscopeApp(Source(path))
    assert gc.get_freeze_count() > 0
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: getattr(app.screen, "model", None) is not None)
    assert gc.get_freeze_count() == 0
