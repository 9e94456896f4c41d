"""Text from a file, a model or a person is shown as the text it is, never read as markup: a
node id, a model's name, an action, a tool's name, a run's file name and a typed filter with
``[/b]`` in them raised MarkupError out of the app (a traceback), and ``[red]`` restyled them."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

from rich.console import Console

from tests.conftest import DEMO_RUN
from tests.functional.helpers import static_text, wait_for
from trajscope.engine.formats.collection import find_runs, find_verdicts
from trajscope.engine.node import Node
from trajscope.engine.verification import VerifyResult
from trajscope.tui.app import TrajscopeApp
from trajscope.tui.bridge import RunsSource, Source
from trajscope.tui.screens.compare import CompareScreen
from trajscope.tui.screens.dialogs import EditDialog, ResampleDialog
from trajscope.tui.screens.observation import ObservationScreen

SIZE = (150, 40)
NODE = "x[/b]"  # a node id as a hostile run log may name it
MODEL = "gpt[/b][red]"


def hostile_run(folder: Path) -> Path:
    """The demo run with node 1 named ``x[/b]``, node 2's command and the model's name holding
    markup, in a folder and file whose names hold some too."""
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "run[red]one.jsonl"
    lines = []
    for line in DEMO_RUN.read_text().splitlines():
        event = json.loads(line)
        for key in ("id", "parent"):
            if event.get(key) == "1":
                event[key] = NODE
        if event["type"] == "run_started":
            event["config"]["model"] = MODEL
        if event["type"] == "node_added" and event.get("id") == "2":
            event["action"] = {"tool": "bash", "args": {"command": "grep -n x [/b] [red]"}, "raw": "grep -n x [/b]"}
        lines.append(json.dumps(event))
    out.write_text("\n".join(lines) + "\n")
    return out


def shown(title) -> str:
    """What a border title draws (Textual keeps it as markup)."""
    from textual.content import Content

    return Content.from_markup(str(title)).plain


async def test_a_node_id_an_action_and_a_tool_name_with_markup_are_shown_as_they_are(tmp_path):
    path = hostile_run(tmp_path / "runs")
    app = TrajscopeApp(Source(path))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: getattr(app.screen, "model", None) is not None and NODE in app.screen.model.nodes)
        explorer = app.screen
        explorer.tree.reveal(NODE)
        await wait_for(pilot, lambda: explorer.tree.cursor_id == NODE)
        await pilot.press("o")  # the observation's title names the node
        await wait_for(pilot, lambda: isinstance(app.screen, ObservationScreen))
        await pilot.pause(0.2)
        assert f"observation of #{NODE}" in shown(app.screen.query_one("#observation-body").border_title)
        await pilot.press("escape")
        await pilot.press("c")  # compare it with node 2: each column's title names its node
        explorer.tree.reveal("2")
        await wait_for(pilot, lambda: explorer.tree.cursor_id == "2")
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        await pilot.pause(0.2)
        assert shown(app.screen.query_one("#compare-a").border_title) == f"#{NODE}"
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is explorer)

        app.push_screen(ResampleDialog(explorer.model.nodes["2"]))  # the action, in its sentence
        await pilot.pause(0.2)
        assert "grep -n x [/b] [red]" in " ".join(static_text(s) for s in app.screen.query("Static"))
        app.pop_screen()
        node = Node(id=NODE, parent=None, depth=1, kind="run", action={"tool": "my[/b]tool", "args": {}})
        app.push_screen(EditDialog(node))  # the tool's name and the node's id, and its error
        await pilot.pause(0.2)
        dialog = app.screen
        assert shown(dialog.query_one("#dialog").border_title) == f"Edit #{NODE}"
        words = " ".join(static_text(s) for s in dialog.query("Static"))
        assert "my[/b]tool" in words and f"#{NODE}" in words
        dialog.action_run()
        await pilot.pause(0.2)
        assert "my[/b]tool" in static_text(dialog.query_one("#dialog-error"))
        assert app.is_running and app.return_code is None


async def test_the_runs_screen_shows_names_models_and_a_filter_with_markup_as_they_are(tmp_path):
    root = tmp_path / "runs"
    hostile_run(root)
    app = TrajscopeApp(RunsSource(root, find_runs(root), find_verdicts(root)), theme="trajscope-dark")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.read == len(screen.rows) == 1, 60)
        await pilot.pause(0.3)
        table = screen.query_one("DataTable")
        cells = [str(c) for c in table.get_row_at(0)]
        assert cells[0] == "run[red]one" and MODEL in cells[1], cells
        await pilot.press("slash", *"[/b]", "enter")  # no run mentions it: the summary says the filter
        await pilot.pause(0.3)
        assert "text “[/b]”" in static_text(screen.query_one("#runs-summary"))
        assert app.is_running and app.return_code is None


def test_verify_prints_parametrized_test_ids_and_errors_as_they_are():
    from trajscope.tui.cli.verify import print_result

    task = type("Task", (), {"instance_id": "demo[/b]", "FAIL_TO_PASS": ["t.py::test_url[/foo]"]})()
    result = VerifyResult(
        "demo[/b]",
        True,
        fail_to_pass={"t.py::test_url[/foo]": True},
        pass_to_pass={"t.py::test_fmt[int16]": False},
        error="[/x] from the log",
    )
    out = io.StringIO()
    print_result(Console(file=out, width=200, color_system=None), task, result, "local")
    text = out.getvalue()
    for words in ("demo[/b]", "test_url[/foo]", "test_fmt[int16]", "[/x] from the log", "NOT RESOLVED"):
        assert words in text, (words, text)


def test_a_headless_run_prints_an_action_and_a_failure_with_markup_as_they_are():
    from trajscope.tui.cli.run import _print_node

    out = io.StringIO()
    console = Console(file=out, width=160, color_system=None)
    action = {"tool": "bash", "args": {"command": "grep -rn '[/b]' [red]src"}}
    _print_node(console, Node(id="3", parent="2", depth=3, kind="run", action=action, exit_code=0, status="done"))
    _print_node(
        console, Node(id="4", parent="3", depth=4, kind="run", status="failed", status_reason="[/x] said the model")
    )
    text = out.getvalue()
    assert "grep -rn '[/b]' [red]src" in text and "failed: [/x] said the model" in text, text


def test_stats_and_analyze_print_paths_and_names_with_markup_as_they_are(tmp_path):
    """A folder ``evil[`` holding ``b].jsonl`` makes the path ``…/evil[/b].jsonl``: the line
    saying it could not be read raised MarkupError; the run named ``run[red]one`` lost its tag."""
    from tests.support import trajscope

    root = tmp_path / "runs"
    hostile_run(root)
    (root / "evil[").mkdir()
    (root / "evil[" / "b].jsonl").write_text("garbage {\n")
    wide = os.environ | {"COLUMNS": "400"}  # each path on one line
    for command in ("stats", "analyze"):
        proc = trajscope(command, root, env=wide)
        assert "Traceback" not in proc.stderr and proc.returncode in (0, 1), (command, proc.stderr)
        text = " ".join((proc.stdout + proc.stderr).split())
        assert "evil[/b].jsonl" in text, (command, text)
    assert "run[red]one" in trajscope("stats", root, env=wide).stdout


CODES = "\x1b]0;pwned\x07\x1b[8mHIDDEN\x9b2J"  # an OSC (the terminal's title), SGR conceal, a C1 CSI


def coded_run(folder: Path) -> Path:
    """The demo run with terminal codes in the task's id, an action and a thought."""
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "coded.jsonl"
    lines = []
    for line in DEMO_RUN.read_text().splitlines():
        event = json.loads(line)
        if event["type"] == "run_started":
            event["task"]["instance_id"] += CODES
        if event["type"] == "node_added" and event.get("id") == "1":
            event["action"] = {"tool": "bash", "args": {"command": f"ls {CODES}"}, "raw": f"ls {CODES}"}
            event["thought"] = f"think {CODES}"
        lines.append(json.dumps(event))
    out.write_text("\n".join(lines) + "\n")
    return out


async def test_terminal_codes_in_a_run_are_drawn_as_text_not_sent_to_the_terminal(tmp_path):
    """What the app draws (the tree's labels, the detail pane, the status bar) holds no control
    character of the file: each is drawn as U+FFFD, and the text around it stays."""
    app = TrajscopeApp(Source(coded_run(tmp_path)))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: getattr(app.screen, "model", None) is not None and "1" in app.screen.model.nodes)
        app.screen.tree.reveal("1")
        await wait_for(pilot, lambda: app.screen.tree.cursor_id == "1")
        await pilot.pause(0.3)
        drawn = app.export_screenshot()
    assert "HIDDEN" in drawn and "\ufffd" in drawn
    assert not any(c in drawn for c in "\x1b\x07\x9b"), [c for c in drawn if ord(c) < 32 and c not in "\n\t"][:5]


def test_terminal_codes_in_a_run_are_printed_as_text_by_the_cli(tmp_path):
    from tests.support import trajscope

    path = coded_run(tmp_path)
    proc = trajscope("stats", path, env=os.environ | {"COLUMNS": "400"})  # the task's id is a row
    assert proc.returncode == 0, proc.stderr
    assert "HIDDEN" in proc.stdout and not any(c in proc.stdout for c in "\x1b\x07\x9b"), repr(proc.stdout[:300])


async def test_our_notifications_are_plain_and_textual_s_own_keep_their_markup():
    app = TrajscopeApp(Source(DEMO_RUN))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: getattr(app.screen, "model", None) is not None)
        app.screen.notify("ours [/b]")  # a screen's notify, as every one of ours
        app.notify("ours too [red]")
        textual_own = {"__name__": "textual.app", "app": app}  # as Textual's screenshot action calls it
        exec("app.notify('Saved screenshot to [$text-success]x.svg')", textual_own)
        await pilot.pause(0.2)
        markup = {n.message: n.markup for n in app._notifications}
        assert markup == {
            "ours [/b]": False,
            "ours too [red]": False,
            "Saved screenshot to [$text-success]x.svg": True,
        }, markup
