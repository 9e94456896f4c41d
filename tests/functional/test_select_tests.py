"""``--select tests`` on a tree holding one resolving and two plausible wrong patches, with a model
that writes one right reproduction test: the selector picks the resolving patch (the PRM picks a
wrong one), ``search --headless``'s JSON says why, and the submit and compare screens show it,
driven through Pilot. The checks really ran, in the local sandbox (tests/check_fixture.py)."""

from __future__ import annotations

import pytest

from trajscope.engine.launch import result_json
from trajscope.engine.search.select import select_prm, select_tests
from trajscope.tui.app import TrajscopeApp
from trajscope.tui.bridge import Source
from trajscope.tui.screens.compare import CompareScreen
from trajscope.tui.screens.submit import SubmitScreen
from tests.check_fixture import three_candidates
from tests.functional.helpers import static_text, wait_for

SIZE = (160, 48)


@pytest.mark.slow  # the checks run pytest eight times in a sandbox (about 6 s on an idle machine)
async def test_select_tests_picks_the_resolving_patch_and_the_submit_screen_says_why(tmp_path):
    session = three_candidates(tmp_path)
    tree = session.tree
    assert select_prm(tree)[0] == "n1" and not tree.nodes["n1"].resolved  # the PRM falls for a wrong fix
    result = result_json(session, 0.0, select_tests, "tests")
    assert result["selected"] == "n2" and result["resolved"]
    rows = {c["node"]: c for c in result["candidates"]}
    assert rows["n2"]["tests_passed"] == ["t1"] and rows["n1"]["tests_passed"] == rows["n3"]["tests_passed"] == []
    assert rows["n2"]["chosen"] and "passes more reproduction tests than #n1, #n3" in result["why"]

    app = TrajscopeApp(Source(session.log_path))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.screen.model is not None and not app.screen.tree.loading)
        model = app.screen.model
        app.push_screen(SubmitScreen(model, "n2"))
        await wait_for(pilot, lambda: isinstance(app.screen, SubmitScreen) and app.screen.query("#submit-checks"))
        checks = app.screen.query_one("#submit-checks")
        await wait_for(pilot, lambda: "chooses it" in static_text(checks))
        shown = static_text(checks)
        assert "t1 ✓" in shown and "breaks none" in shown
        assert "--select tests chooses it: it passes more reproduction tests than #n1, #n3" in shown
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, (SubmitScreen, CompareScreen)))

        app.push_screen(SubmitScreen(model, "n1"))  # a wrong fix says which was chosen instead, and why
        await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, SubmitScreen)
                and app.screen.node_id == "n1"
                and app.screen.query("#submit-checks")
            ),
        )
        checks = app.screen.query_one("#submit-checks")
        await wait_for(pilot, lambda: "chooses #n2" in static_text(checks))
        assert "t1 ✗" in static_text(checks)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, (SubmitScreen, CompareScreen)))

        app.push_screen(CompareScreen(model, "n2", "n3"))
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.query("#compare-b-body"))
        left, right = (
            static_text(app.screen.query_one("#compare-left")),
            static_text(app.screen.query_one("#compare-b-body")),
        )
        assert "t1 ✓" in left and "chooses it" in left
        assert "t1 ✗" in right and "chooses #n2" in right
