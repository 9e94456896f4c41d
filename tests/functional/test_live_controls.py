"""The live app's controls as a new user meets them (issue 31): what the submit screen shows
once a submission ran a node, the re-sample and edit dialogs, the keys of the footer and the
help, and Ctrl-C. A real Session each time: the demo policy on a bundled task, local sandbox."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, TextArea

from trajscope.engine.events import read_events
from trajscope.engine.policy.demo import DemoPolicy
from trajscope.engine.prm.heuristic import HeuristicScorer
from trajscope.engine.search.budget import Budget
from trajscope.engine.search.config import SearchConfig
from trajscope.engine.session import Session
from trajscope.engine.tree import ROOT
from tests.functional.helpers import static_text, wait_for
from tests.functional.live_helpers import SIZE, TASK, app_for, attached
from trajscope.tui.screens.dialogs import EditDialog, ResampleDialog
from trajscope.tui.screens.help import HelpScreen
from trajscope.tui.screens.submit import SubmitScreen
from trajscope.tui.widgets.node_label import ASKED_GLYPHS, STATUS_GLYPHS, score_bar


def pruned_session(tmp_path) -> Session:
    """PRM pruning with the demo policy: each step samples 3 candidates and runs 1, so the
    tree holds edits that were pruned before they ran. It ends by itself in a few seconds."""
    session = Session(
        TASK,
        DemoPolicy(seed=3),
        tmp_path / "pruned.jsonl",
        scorers=[HeuristicScorer()],
        budget=Budget(nodes=16),
        config=SearchConfig(strategy="prune", prune_m=3, prune_b=1),
        seed=3,
    )
    session.start()
    session.wait()
    return session


async def test_the_submit_screen_shows_the_patch_the_submission_verified(tmp_path):
    """A str_replace pruned before it ran has no state yet: its pane must not claim an empty
    patch, and once the submission ran it, the pane shows the patch that was verified."""
    session = pruned_session(tmp_path)
    try:
        tree = session.tree
        target = next(
            n
            for n in tree.nodes.values()
            if n.id != ROOT and n.kind == "edit" and n.status == "pruned" and n.exit_code is None
        )
        assert tree.patch_at(target.id) == tree.patch_at(target.parent)  # nothing of its own until it runs
        app = app_for(session)
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, len(tree) - 1)
            app.screen.tree.reveal(target.id)
            await pilot.press("s")
            await wait_for(pilot, lambda: isinstance(app.screen, SubmitScreen))
            screen = app.screen
            first = static_text(screen.query_one("#submit-patch"))
            assert "empty patch" not in first and "has not run" in first, first
            await wait_for(pilot, lambda: "RESOLVED" in static_text(screen.query_one("#submit-verdict")), 120)
            submitted = next(
                e for e in read_events(session.recorder.log.path) if e["type"] == "submitted" and e["id"] == target.id
            )
            assert submitted["patch"].strip() and submitted["patch"] != tree.patch_at(target.parent)
            await wait_for(pilot, lambda: "has not run" not in static_text(screen.query_one("#submit-patch")), 5)
            shown = static_text(screen.query_one("#submit-patch"), width=400)
            for line in submitted["patch"].strip().splitlines():
                assert line.rstrip() in shown, line
            assert "file, +" in static_text(screen.query_one("#submit-header"))
    finally:
        session.close()


async def test_resample_takes_how_many_then_the_hint_and_the_new_nodes_say_who_asked(tmp_path):
    """Focus starts at "how many" (shown first); tab goes on to the hint and then the button, so
    "3, tab, hint, tab, enter" sends both. The new nodes carry the request, the label marks
    them and the detail pane says the hint."""
    session = pruned_session(tmp_path)
    try:
        target = session.tree.nodes["n7"]
        assert target.status == "done" and len(session.tree.children("n7")) >= 2
        app = app_for(session)
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, len(session.tree) - 1)
            app.screen.tree.reveal(target.id)
            await pilot.press("r")
            await wait_for(pilot, lambda: isinstance(app.screen, ResampleDialog))
            assert app.focused.id == "resample-n"
            await pilot.press("3", "tab", *"look at the unit table", "tab")
            assert app.focused.id == "ok"
            await pilot.press("enter")
            await wait_for(pilot, lambda: not isinstance(app.screen, ResampleDialog))
            asked = lambda: [n for n in app.screen.model.nodes.values() if n.asked_by_person == "resample"]  # noqa: E731
            await wait_for(pilot, lambda: asked(), 30)
            node = asked()[0]
            assert node.extra["hint"] == "look at the unit table" and node.extra["expanded_from"] == target.id
            app.screen.tree.reveal(node.id)
            await pilot.pause(0.2)
            line = app.screen.tree.cursor_node.label.plain
            assert f"#{node.id} {ASKED_GLYPHS['resample']} " in line, line
            meta = static_text(app.screen.query_one("#detail-meta"))
            assert "a person's re-sample of #n7" in meta and "look at the unit table" in meta, meta
    finally:
        session.close()
    requested = [e for e in read_events(session.recorder.log.path) if e["type"] == "branch_requested"]
    assert [(e["parent"], e["n"], e["hint"], e["by"]) for e in requested] == [
        ("n7", 3, "look at the unit table", "human")
    ]


async def test_editing_a_multi_line_str_replace_gives_old_and_new_text_areas(tmp_path):
    session = pruned_session(tmp_path)
    try:
        target = next(
            n
            for n in session.tree.nodes.values()
            if n.id != ROOT
            and n.action["tool"] == "str_replace"
            and "\n" in n.action["args"]["old"]
            and n.status == "done"
        )
        args = target.action["args"]
        app = app_for(session)
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, len(session.tree) - 1)
            app.screen.tree.reveal(target.id)
            await pilot.press("e")
            await wait_for(pilot, lambda: isinstance(app.screen, EditDialog))
            dialog = app.screen
            assert dialog.query_one("#arg-path", Input).value == args["path"]
            old, new = dialog.query_one("#arg-old", TextArea), dialog.query_one("#arg-new", TextArea)
            assert old.text == args["old"] and new.text == args["new"]  # the text itself, no JSON escapes
            assert app.focused is dialog.query_one("#arg-path", Input)
            dialog.query_one("#arg-path", Input).value = ""
            await pilot.press("ctrl+s")  # a required path left empty: refused, the dialog says why
            assert "needs path" in static_text(dialog.query_one("#dialog-error"))
            dialog.query_one("#arg-path", Input).value = args["path"]
            new.text = args["new"] + "# edited by hand\n"
            await pilot.press("ctrl+s")
            await wait_for(
                pilot,
                lambda: any(
                    n.extra.get("edited_from") == target.id and n.exit_code is not None
                    for n in session.tree.nodes.values()
                ),
                30,
            )
    finally:
        session.close()
    edit = next(n for n in session.tree.nodes.values() if n.extra.get("edited_from") == target.id)
    assert edit.action["args"] == {"path": args["path"], "old": args["old"], "new": args["new"] + "# edited by hand\n"}
    assert edit.exit_code == 0 and edit.asked_by_person == "edit"


def footer_keys(screen) -> list[tuple[str, str]]:
    return [(key.key, key.description) for key in screen.query("FooterKey")]


async def test_space_says_resume_while_paused_the_palette_key_is_shown_once_and_ctrl_c_quits(tmp_path):
    """Textual's own ctrl+c only said "press q to quit"; the app now ends on it, so the command
    that started it stops the search and prints its summary, as after q."""
    session = pruned_session(tmp_path)
    try:
        app = app_for(session)
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, len(session.tree) - 1)
            await pilot.pause(0.2)
            keys = footer_keys(app.screen)
            assert ("space", "Pause") in keys and ("space", "Resume") not in keys, keys
            assert [k for k, _ in keys].count("ctrl+p") == 1, keys
            await pilot.press("space")
            await wait_for(pilot, lambda: session.paused and ("space", "Resume") in footer_keys(app.screen), 5)
            assert ("space", "Pause") not in footer_keys(app.screen)
            await pilot.press("question_mark")  # the help says what space does now, too
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
            assert any(d.startswith("Resume") for _, d in app.screen.rows)
            assert not any(d.startswith("Pause") for _, d in app.screen.rows)
            await pilot.press("escape")
            await pilot.press("space")
            await wait_for(pilot, lambda: not session.paused and ("space", "Pause") in footer_keys(app.screen), 5)
            await pilot.press("ctrl+c")
            await pilot.pause()
            assert app.return_code == 0
            assert not any("to quit" in n.message for n in app._notifications)
        assert [e["name"] for e in session.tree.commands if e.get("by") == "human"] == ["pause", "resume"]
    finally:
        session.close()


async def test_the_help_has_a_legend_of_the_tree_and_the_status_bar_names_the_sandbox(tmp_path):
    session = pruned_session(tmp_path)
    try:
        app = app_for(session)
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, len(session.tree) - 1)
            assert "sandbox local" in static_text(app.screen.query_one("StatusBar"))
            await pilot.press("question_mark")
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
            text = static_text(app.screen.query_one("#help-body Static"), width=160)
            assert "in the tree" in text
            for mark in (*(g for g in STATUS_GLYPHS.values() if g.strip()), *ASKED_GLYPHS.values()):
                assert any(line.strip().startswith(mark) for line in text.splitlines()), mark
            for score in (0.8, 0.5, 0.2):
                assert score_bar(score) in text
            promote = next(d for _, d in app.screen.rows if d.startswith("Promote"))
            assert "DARS expands below it" in promote and "exports prefer it" in promote
    finally:
        session.close()


def test_the_readme_legend_lists_every_mark_of_the_tree():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    legend = readme[readme.index("### The tree's marks") :]
    legend = legend[: legend.index("\n#")]
    for mark in (*(g for g in STATUS_GLYPHS.values() if g.strip()), *ASKED_GLYPHS.values()):
        assert f"`{mark}`" in legend, mark
    assert f"`{score_bar(0.8)} 0.80`" in legend


def test_a_keymap_moves_pause_and_resume_together(tmp_path, monkeypatch, capsys):
    """Space is one id on two bindings (Pause, Resume): rebinding it is no clash with itself,
    and `trajscope settings` lists it once."""
    from trajscope.tui.app import TrajscopeApp
    from trajscope.tui.cli import main
    from trajscope.tui.settings import read_settings

    path = tmp_path / "settings.toml"
    path.write_text('[keymap]\n"live.pause" = "z"\n', encoding="utf-8")
    monkeypatch.setenv("TRAJSCOPE_SETTINGS", str(path))
    assert read_settings(TrajscopeApp).keymap == {"live.pause": "z"}
    assert main(["settings"]) == 0
    listed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("live.pause ")]
    assert len(listed) == 1 and listed[0].split()[1:] == ["z", "Pause", "/", "Resume", "(rebound)"]
