"""An imported run opened with its task: move to a step, `r` with a hint, the state is
rebuilt by replay, the live screen shows a live branch under the imported trunk that runs
to a submission with its verdict, and the new log reopens with both."""

from __future__ import annotations

from pathlib import Path

import pytest

from trajscope.engine.events import read_events
from trajscope.engine.spec import SearchSpec
from trajscope.engine.tasks import load_task_dir
from trajscope.engine.tree import Tree
from trajscope.tui.app import TrajscopeApp
from trajscope.tui.branch_launcher import BranchableSource, BranchLauncher
from trajscope.tui.screens.dialogs import ResampleDialog
from trajscope.tui.screens.imported import ImportedExplorerScreen
from trajscope.tui.screens.live import LiveScreen
from tests.fake_llm import FakeLLM, reply
from tests.functional.helpers import static_text, wait_for

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RUN = FIXTURES / "real" / "mini-swe-agent" / "toolcall_submitted.traj.json"
CALC = FIXTURES / "replay" / "calc"


def fixer(request: dict, index: int) -> dict:
    """Follows the hint: edits calc.py once, then submits."""
    if any("Edited calc.py" in str(m.get("content")) for m in request["messages"]):
        return reply("submit")
    return reply("str_replace", path="calc.py", old="return a - b", new="return a + b")


@pytest.mark.slow
async def test_resample_an_imported_step_with_a_hint_branches_live_to_a_verdict(tmp_path):
    out = tmp_path / "branches.jsonl"
    with FakeLLM(fixer) as server:
        spec = SearchSpec().updated(
            {"model": "openai/fake", "api_base": server.url, "sandbox": "local", "prm": "heuristic", "max_nodes": 12}
        )
        launcher = BranchLauncher(RUN, load_task_dir(CALC), spec, out)
        app = TrajscopeApp(BranchableSource(RUN, launcher), theme="trajscope-dark")
        try:
            async with app.run_test(size=(140, 40)) as pilot:
                await wait_for(pilot, lambda: isinstance(app.screen, ImportedExplorerScreen) and app.screen.model)
                app.screen.tree.reveal("2")
                await pilot.pause()
                await pilot.press("r")
                await wait_for(pilot, lambda: isinstance(app.screen, ResampleDialog))
                await pilot.press("tab", *"edit calc.py", "enter")
                await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen), 30)
                live = app.screen

                def branch():
                    return [n for n in live.model.nodes.values() if n.extra.get("requested_by") == "human"]

                await wait_for(pilot, lambda: live.model is not None and branch(), 30)
                assert branch()[0].parent == "1"  # a sibling of step 2, under the imported trunk
                await wait_for(
                    pilot, lambda: any(n.verified for n in live.model.nodes.values() if n.proposer == "policy"), 60
                )
                submitted = next(n for n in live.model.nodes.values() if n.proposer == "policy" and n.verified)
                assert submitted.resolved is True
                live.tree.reveal(submitted.id)
                await pilot.pause()
                await wait_for(pilot, lambda: "verified: resolved" in static_text(live.query_one("#detail-meta")))
        finally:
            launcher.close()
    assert any("edit calc.py" in str(r["messages"]) for r in server.requests)
    tree = Tree.fold(read_events(out))  # the new log reopens with the trunk and the branch
    assert sum(n.proposer == "import" for n in tree.nodes.values()) == 5
    assert any(n.proposer == "policy" and n.resolved for n in tree.nodes.values())
