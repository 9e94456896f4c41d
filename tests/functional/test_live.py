"""The live app against a real Session: the fake server's model through litellm, local sandbox.

Each control is pressed as a person would, and its effect is checked in the Session's tree,
in the run log, and on the screen."""

from __future__ import annotations

import orjson
from textual.color import Color

import pytest

from trajscope.engine.events import read_events
from trajscope.engine.tree import ROOT
from tests.functional.helpers import static_text, wait_for
from tests.functional.live_helpers import SIZE, app_for, attached, demo_session, fake_session, settled
from trajscope.tui.screens.compare import CompareScreen
from trajscope.tui.screens.dialogs import EditDialog, ResampleDialog
from trajscope.tui.screens.help import HelpScreen
from trajscope.tui.screens.submit import SubmitScreen


def commands(session, name):
    return [e for e in read_events(session.recorder.log.path) if e["type"] == "command" and e["name"] == name]


def status_text(app) -> str:
    return static_text(app.screen.query_one("StatusBar"))


def node_where(session, predicate):
    return next(n for n in session.tree.nodes.values() if n.id != ROOT and predicate(n))


async def paused_with(pilot, session, at_least: int = 4):
    await attached(pilot, at_least)
    await pilot.press("space")
    await settled(pilot, session)


@pytest.mark.slow
async def test_tree_grows_live_with_budget_workers_and_scorer_in_the_status_bar(tmp_path):
    with fake_session(tmp_path) as session:
        app = app_for(session)
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, 3)
            first = len(app.screen.model)
            await wait_for(pilot, lambda: len(app.screen.model) > first + 3, 60)
            status = status_text(app)
            assert "budget nodes" in status and "/60" in status
            assert "workers" in status and "prm heuristic" in status and "following" in status
            assert app.screen.tree.cursor_id != ROOT  # following the frontier
            # the UI's tree is the Session's tree, event for event
            await pilot.press("space")
            await settled(pilot, session)
            assert app.screen.model.stats() == session.tree.stats()


@pytest.mark.slow
async def test_space_pauses_and_resumes_and_both_are_recorded(tmp_path):
    with fake_session(tmp_path) as session:
        app = app_for(session)
        async with app.run_test(size=SIZE) as pilot:
            await paused_with(pilot, session)
            assert "paused" in status_text(app)
            count = len(session.tree)
            await pilot.pause(0.6)
            assert len(session.tree) == count  # nothing new starts while paused
            await pilot.press("space")
            await wait_for(pilot, lambda: len(session.tree) > count, 30)
            assert not session.paused
    assert commands(session, "pause")[0]["by"] == "human" and commands(session, "resume")


@pytest.mark.slow
async def test_prune_then_undo(tmp_path):
    with fake_session(tmp_path) as session:
        app = app_for(session)
        async with app.run_test(size=SIZE) as pilot:
            await paused_with(pilot, session)
            target = node_where(session, lambda n: n.status == "done" and n.depth == 1)
            app.screen.tree.reveal(target.id)
            await pilot.press("p")
            await wait_for(pilot, lambda: app.screen.model.nodes[target.id].status == "pruned")
            assert session.tree.nodes[target.id].status_by == "human"
            assert "pruned" in app.screen.tree.label_for(target.id).plain
            await pilot.press("u")
            await wait_for(pilot, lambda: app.screen.model.nodes[target.id].status == "done")
            assert session.tree.nodes[target.id].status_reason == "prune undone"
            await pilot.press("u")  # nothing left to undo: a warning, no change
            await pilot.pause(0.2)
    statuses = [
        e for e in read_events(session.recorder.log.path) if e["type"] == "node_status" and e["id"] == target.id
    ]
    assert [(e["status"], e["by"]) for e in statuses] == [("pruned", "human"), ("done", "human")]


async def test_promote(tmp_path):
    with fake_session(tmp_path) as session:
        app = app_for(session)
        async with app.run_test(size=SIZE) as pilot:
            await paused_with(pilot, session)
            target = node_where(session, lambda n: n.status == "done")
            app.screen.tree.reveal(target.id)
            await pilot.press("P")
            await wait_for(pilot, lambda: app.screen.model.nodes[target.id].status == "promoted")
            assert session.tree.nodes[target.id].status_by == "human"


@pytest.mark.slow
async def test_resample_dialog_sends_n_and_the_hint_to_the_model(tmp_path):
    with fake_session(tmp_path) as session:
        app = app_for(session)
        async with app.run_test(size=SIZE) as pilot:
            await paused_with(pilot, session)
            target = node_where(session, lambda n: n.status == "done" and n.depth == 2)
            before = set(session.tree.children(target.parent))
            app.screen.tree.reveal(target.id)
            await pilot.press("r")
            await wait_for(pilot, lambda: isinstance(app.screen, ResampleDialog))
            app.screen.query_one("#resample-n").value = "9"
            await pilot.press("enter")  # out of range: the dialog stays and says why
            assert isinstance(app.screen, ResampleDialog)
            assert "1 to 8" in static_text(app.screen.query_one("#dialog-error"))
            app.screen.query_one("#resample-n").value = "2"
            await pilot.press("tab", *"check the unit table", "enter")  # focus starts at how many
            await wait_for(pilot, lambda: not isinstance(app.screen, ResampleDialog))
            await wait_for(pilot, lambda: len(set(session.tree.children(target.parent)) - before) >= 1, 30)
    requested = [
        e for e in read_events(session.recorder.log.path) if e["type"] == "branch_requested" and e.get("by") == "human"
    ]
    assert requested[0]["parent"] == target.id and requested[0]["n"] == 2
    assert requested[0]["hint"] == "check the unit table"
    asked = [r for r in session.server.requests if "check the unit table" in orjson.dumps(r["messages"]).decode()]
    assert asked and asked[0].get("n", 1) == 2


@pytest.mark.slow
async def test_edit_runs_the_edited_action_as_a_sibling_with_a_teacher_label(tmp_path):
    with fake_session(tmp_path) as session:
        app = app_for(session)
        async with app.run_test(size=SIZE) as pilot:
            await paused_with(pilot, session)
            target = node_where(session, lambda n: n.status == "done" and n.action["tool"] == "bash")
            app.screen.tree.reveal(target.id)
            await pilot.press("e")
            await wait_for(pilot, lambda: isinstance(app.screen, EditDialog))
            area = app.screen.query_one("#edit-text")
            assert area.text == target.action["args"]["command"]
            area.text = ""
            await pilot.press("ctrl+s")  # empty: refused, the dialog says why
            assert "empty" in static_text(app.screen.query_one("#dialog-error"))
            area.text = "echo edited-by-hand"
            await pilot.press("ctrl+s")
            await wait_for(
                pilot,
                lambda: any(
                    n.extra.get("edited_from") == target.id and n.exit_code is not None
                    for n in session.tree.nodes.values()
                ),
                30,
            )
    node = node_where(session, lambda n: n.extra.get("edited_from") == target.id)
    assert node.parent == target.parent and node.proposer == "human"
    assert node.action["args"]["command"] == "echo edited-by-hand" and "edited-by-hand" in node.observation
    assert node.extra["teacher_action"]["by"] == "human"


async def test_edit_of_a_tool_action_checks_its_arguments(tmp_path):
    with fake_session(tmp_path) as session:
        app = app_for(session)
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, 1)
            await wait_for(
                pilot,
                lambda: any(
                    n.action and n.action["tool"] not in ("bash", "submit")
                    for n in session.tree.nodes.values()
                    if n.id != ROOT
                ),
                60,
            )
            await pilot.press("space")
            await settled(pilot, session)
            target = node_where(session, lambda n: n.action["tool"] not in ("bash", "submit"))
            app.screen.tree.reveal(target.id)
            await pilot.press("e")
            await wait_for(pilot, lambda: isinstance(app.screen, EditDialog))
            tool = target.action["tool"]
            path = app.screen.query_one("#arg-path") if tool != "search" else app.screen.query_one("#arg-pattern")
            path.value = ""  # one field per argument; a required one left empty is refused in words
            await pilot.press("ctrl+s")
            assert f"{tool} needs" in static_text(app.screen.query_one("#dialog-error"))
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, EditDialog))


@pytest.mark.slow
async def test_submit_screen_verifies_with_progress_and_exports(tmp_path):
    with fake_session(tmp_path) as session:
        app = app_for(session)
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, 1)
            await wait_for(pilot, lambda: any(n.patch for n in session.tree.nodes.values()), 60)
            await pilot.press("space")
            await settled(pilot, session)
            target = node_where(session, lambda n: n.patch and n.status != "submitted")
            app.screen.tree.reveal(target.id)
            await pilot.press("s")
            await wait_for(pilot, lambda: isinstance(app.screen, SubmitScreen))
            assert "verif" in static_text(app.screen.query_one("#submit-phase")) or target.id in session.verifying
            await wait_for(pilot, lambda: session.tree.nodes[target.id].verified is not None, 60)
            await wait_for(pilot, lambda: "RESOLVED" in static_text(app.screen.query_one("#submit-verdict")))
            await pilot.press("x", "w")
            await pilot.pause(0.2)
    patch_file = tmp_path / f"{TASK_ID}.{target.id}.patch"
    assert patch_file.read_text() == session.tree.nodes[target.id].patch.rstrip("\n") + "\n"
    lines = (tmp_path / "predictions.jsonl").read_bytes().splitlines()
    assert len(lines) == 1
    prediction = orjson.loads(lines[0])
    assert list(prediction) == ["instance_id", "model_name_or_path", "model_patch"]
    assert prediction["instance_id"] == TASK_ID and prediction["model_patch"] == patch_file.read_text()
    assert commands(session, "submit")[0]["node"] == target.id


@pytest.mark.slow
async def test_compare_two_nodes_side_by_side(tmp_path):
    with fake_session(tmp_path) as session:
        app = app_for(session)
        async with app.run_test(size=SIZE) as pilot:
            await paused_with(pilot, session, 5)
            a, b = [n.id for n in session.tree.nodes.values() if n.id != ROOT][:2]
            app.screen.tree.reveal(a)
            await pilot.press("c")
            app.screen.tree.reveal(b)
            await pilot.press("c")
            await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
            left = static_text(app.screen.query_one("#compare-left"))
            right = static_text(app.screen.query_one("#compare-b-body"))
            assert f"#{a} " in left and f"#{b} " in right and "path" in left
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, CompareScreen))


@pytest.mark.slow
async def test_plus_raises_the_budget_and_the_search_goes_on(tmp_path):
    with fake_session(tmp_path, nodes=6) as session:
        app = app_for(session)
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, 1)
            await wait_for(pilot, lambda: session.finished is not None and "node budget" in session.finished, 60)
            await wait_for(pilot, lambda: "finished: node budget" in status_text(app))
            await pilot.press("plus")
            await wait_for(pilot, lambda: session.budget.nodes == 16, 10)
            await wait_for(pilot, lambda: len(session.tree) > 6, 30)
    assert commands(session, "raise_budget")[0]["budget"]["nodes"] == 16


async def test_plus_on_a_huge_budget_raises_it_by_the_most_one_step_takes(tmp_path):
    """Half of a 300,000-node budget passes the engine's cap on one step: the key takes the cap
    instead of failing with an error."""
    session = demo_session(tmp_path, nodes=300_000, pause_at=4)
    try:
        app = app_for(session)
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, 1)
            await settled(pilot, session)
            await pilot.press("plus")
            await wait_for(pilot, lambda: session.budget.nodes == 400_000, 10)
    finally:
        session.close()
    assert commands(session, "raise_budget")[0]["budget"]["nodes"] == 400_000


@pytest.mark.slow
async def test_follow_and_best_leaf(tmp_path):
    with fake_session(tmp_path) as session:
        app = app_for(session)
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, 3)
            screen = app.screen
            assert screen.following
            await pilot.press("k")  # a person moves the cursor: following stops
            await wait_for(pilot, lambda: not screen.following)
            await pilot.press("f")
            assert screen.following
            count = len(screen.model)
            await wait_for(pilot, lambda: len(screen.model) > count, 30)
            await pilot.pause(0.3)
            newest = max((n for n in screen.model.nodes if n != ROOT), key=lambda n: int(n[1:]))
            assert screen.tree.cursor_id in {newest} | screen.running | {screen.auto_cursor}
            await pilot.press("space")
            await settled(pilot, session)
            await pilot.press("b")
            await pilot.pause(0.1)
            assert screen.tree.cursor_id == screen.model.best_leaf()


async def test_help_and_palette_list_every_control(tmp_path):
    with fake_session(tmp_path) as session:
        app = app_for(session)
        async with app.run_test(size=SIZE) as pilot:
            await paused_with(pilot, session, 2)
            await pilot.press("question_mark")
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
            text = " ".join(d for _, d in app.screen.rows)
            # paused: space says Resume
            for word in (
                "Resume",
                "Re-sample",
                "Edit",
                "Prune",
                "Undo prune",
                "Promote",
                "Submit",
                "Budget",
                "Follow",
                "Best leaf",
                "Compare",
                "Search",
                "Go to node",
            ):
                assert word in text, word
            await pilot.press("escape")
            await pilot.press("slash")  # space typed into the prompt is a space, not a pause
            await pilot.press("a", "space", "b")
            assert app.screen.query_one("PromptBar").value == "a b" and session.paused


TASK_ID = "demo__humandur-23"


async def test_sandbox_none_is_recorded_and_shown_in_red_in_the_status_bar(tmp_path):
    """Running unconfined is the user's choice by name (--sandbox none): run_started records
    it, the status bar opens with it in the theme's error colour, and a notification says it."""
    with fake_session(tmp_path, nodes=8, sandbox="none") as session:
        app = app_for(session)
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, 1)
            await wait_for(pilot, lambda: any("UNCONFINED" in n.message for n in app._notifications), 30)
            warning = next(n for n in app._notifications if "UNCONFINED" in n.message)
            assert warning.severity == "error"
            bar = app.screen.query_one("StatusBar")
            assert status_text(app).startswith("UNCONFINED: --sandbox none · nodes ")
            label = next(seg for seg in bar.render_line(0) if "UNCONFINED" in seg.text)
            error = Color.parse(app.current_theme.error)  # $error, give or take Textual's rounding
            assert max(abs(a - b) for a, b in zip(label.style.color.triplet, error.rgb)) <= 2  # reversed: a red block
        started = next(e for e in read_events(session.recorder.log.path) if e["type"] == "run_started")
        assert started["config"]["sandbox"] == "none" and started["config"]["isolated"] is False
        assert commands(session, "sandbox_warning")[0]["text"] == session._root_box.notice


async def test_a_confined_run_says_so_in_run_started_and_not_in_the_status_bar(tmp_path):
    with fake_session(tmp_path, nodes=4) as session:
        app = app_for(session)
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, 1)
            assert "UNCONFINED" not in status_text(app)
        started = next(e for e in read_events(session.recorder.log.path) if e["type"] == "run_started")
        assert started["config"]["sandbox"] == "local" and started["config"]["isolated"] is True
        assert not commands(session, "sandbox_warning")
