"""The live status bar says when the hidden tests steer the search (``--oracle``), and only then."""

from __future__ import annotations

from trajscope.engine.policy.demo import DemoPolicy
from trajscope.engine.prm.heuristic import HeuristicScorer
from trajscope.engine.search.budget import Budget
from trajscope.engine.search.config import SearchConfig
from trajscope.engine.session import Session
from tests.functional.helpers import static_text
from tests.functional.live_helpers import SIZE, TASK, app_for, attached


async def test_the_status_bar_says_the_oracle_steers_the_search_only_when_asked(tmp_path):
    for oracle in (True, False):
        session = Session(
            TASK,
            DemoPolicy(seed=3),
            tmp_path / f"oracle-{oracle}.jsonl",
            scorers=[HeuristicScorer()],
            budget=Budget(nodes=3),
            config=SearchConfig(strategy="linear", oracle=oracle),
            seed=3,
        )
        session.start()
        try:
            app = app_for(session)
            async with app.run_test(size=SIZE) as pilot:
                await attached(pilot, 1)
                await pilot.pause(0.3)
                status = static_text(app.screen.query_one("StatusBar"))
                assert ("--oracle: hidden tests steer it" in status) is oracle, status
        finally:
            session.close()
