"""A real Session (fake-server model through litellm, or the demo policy; local sandbox) inside the app."""

from __future__ import annotations

import contextlib

from trajscope.engine.policy.demo import DemoPolicy
from trajscope.engine.policy.llm import LLMPolicy
from trajscope.engine.prm.heuristic import HeuristicScorer
from trajscope.engine.search.budget import Budget
from trajscope.engine.search.config import SearchConfig
from trajscope.engine.session import Session
from trajscope.engine.tasks import load_task_dir
from tests.conftest import DEMO_TASKS
from tests.fake_llm import FakeLLM, Solver
from tests.functional.helpers import wait_for
from trajscope.tui.app import TrajscopeApp
from trajscope.tui.bridge import LiveSource

SIZE = (140, 40)
TASK = load_task_dir(next(p for p in DEMO_TASKS if p.name == "duration-ms-unit"))


@contextlib.contextmanager
def fake_session(
    tmp_path,
    nodes: int = 60,
    strategy: str = "dars",
    delay_s: float = 0.05,
    seed: int = 4,
    workers: int = 1,
    sandbox: str = "local",
):
    """A search with the fake server's solver through litellm, started; closed at the end."""
    with FakeLLM(Solver(TASK, wrong_rate=0.5, seed=seed), delay_s=delay_s) as server:
        session = Session(
            TASK,
            LLMPolicy("openai/fake", api_base=server.url),
            tmp_path / "run.jsonl",
            scorers=[HeuristicScorer()],
            budget=Budget(nodes=nodes),
            workers=workers,
            config=SearchConfig(strategy=strategy, k=2),
            seed=seed,
            sandbox=sandbox,
        )
        session.server = server
        session.start()
        try:
            yield session
        finally:
            session.close()


def demo_session(tmp_path, nodes: int = 40, pause_at: int | None = None) -> Session:
    """The demo policy with one worker: the same tree every time. ``pause_at``: pause when the
    tree reaches that many nodes (the worker stops at its next step)."""
    session = Session(
        TASK,
        DemoPolicy(seed=3),
        tmp_path / "demo.jsonl",
        scorers=[HeuristicScorer()],
        budget=Budget(nodes=nodes),
        config=SearchConfig(strategy="dars", k=2),
        seed=3,
    )
    if pause_at is not None:

        def listener(event: dict) -> None:
            if event["type"] == "node_added" and len(session.tree) >= pause_at:
                session.hold(True)  # under the recorder's lock: no event may be emitted here

        session.recorder.listeners.append(listener)
    session.start()
    return session


def app_for(session) -> TrajscopeApp:
    return TrajscopeApp(LiveSource(session), theme="trajscope-dark")


async def attached(pilot, at_least: int = 1) -> None:
    screen = pilot.app.screen
    await wait_for(pilot, lambda: screen.model is not None and len(screen.model) > at_least, 60)


async def settled(pilot, session) -> None:
    """Paused, nothing running, and the UI has folded every event."""
    screen = pilot.app.screen
    await wait_for(
        pilot, lambda: session.paused and not any(n.status == "running" for n in session.tree.nodes.values()), 30
    )
    await wait_for(pilot, lambda: len(screen.model) == len(session.tree) and not len(screen.pump), 10)
    await pilot.pause(0.2)
