"""The live app's controls as a new user meets them (issue 31): what the submit screen shows
once a submission ran a node, the re-sample and edit dialogs, the keys of the footer and the
help, and Ctrl-C. A real Session each time: the demo policy on a bundled task, local sandbox."""

from __future__ import annotations

from trajscope.engine.events import read_events
from trajscope.engine.policy.demo import DemoPolicy
from trajscope.engine.prm.heuristic import HeuristicScorer
from trajscope.engine.search.budget import Budget
from trajscope.engine.session import SearchConfig, Session
from trajscope.engine.tree import ROOT
from tests.functional.helpers import static_text, wait_for
from tests.functional.live_helpers import SIZE, TASK, app_for, attached
from trajscope.tui.screens.submit import SubmitScreen


def pruned_session(tmp_path) -> Session:
    """PRM pruning with the demo policy: each step samples 3 candidates and runs 1, so the
    tree holds edits that were pruned before they ran. It ends by itself in a few seconds."""
    session = Session(TASK, DemoPolicy(seed=3), tmp_path / "pruned.jsonl", scorers=[HeuristicScorer()],
                      budget=Budget(nodes=16), config=SearchConfig(strategy="prune", prune_m=3, prune_b=1), seed=3)
    session.start()
    session.wait()
    return session


async def test_the_submit_screen_shows_the_patch_the_submission_verified(tmp_path):
    """A str_replace pruned before it ran has no state yet: its pane must not claim an empty
    patch, and once the submission ran it, the pane shows the patch that was verified."""
    session = pruned_session(tmp_path)
    try:
        tree = session.tree
        target = next(n for n in tree.nodes.values() if n.id != ROOT and n.kind == "edit"
                      and n.status == "pruned" and n.exit_code is None)
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
            submitted = next(e for e in read_events(session.recorder.log.path)
                             if e["type"] == "submitted" and e["id"] == target.id)
            assert submitted["patch"].strip() and submitted["patch"] != tree.patch_at(target.parent)
            await wait_for(pilot, lambda: "has not run" not in static_text(screen.query_one("#submit-patch")), 5)
            shown = static_text(screen.query_one("#submit-patch"), width=400)
            for line in submitted["patch"].strip().splitlines():
                assert line.rstrip() in shown, line
            assert "file, +" in static_text(screen.query_one("#submit-header"))
    finally:
        session.close()
