"""Losing nothing (issue 14, items 9-11 and 14): resumed searches finish what they
inherit, torn logs, provider errors at the start, the node budget with many workers,
and secrets in what trajscope writes."""

from __future__ import annotations

import json
import subprocess
import sys

import orjson

import pytest

from trajscope.engine.events import RunLog, read_events, ReadCounts
from trajscope.engine.policy.llm import LLMPolicy
from trajscope.engine.prm.heuristic import HeuristicScorer
from trajscope.engine.search.budget import Budget
from trajscope.engine.search.config import SearchConfig
from trajscope.engine.session import Session
from trajscope.engine.tree import ROOT, Tree
from tests.fake_llm import FakeLLM, Solver
from tests.support import SEMVER as TASK
from tests.support import search


def session_for(tmp_path, server, nodes, name="run", workers=1, **config):
    policy = LLMPolicy("openai/fake", api_base=server.url, max_retries=0, backoff=0.01)
    return Session(
        TASK,
        policy,
        tmp_path / f"{name}.jsonl",
        scorers=[HeuristicScorer()],
        budget=Budget(nodes=nodes),
        config=SearchConfig(**config),
        seed=1,
        workers=workers,
    )


# 9. A submission whose step ran before the kill is verified by the resumed search.
@pytest.mark.slow
def test_resume_verifies_inherited_submissions(tmp_path):
    with FakeLLM(Solver(TASK, wrong_rate=0.0, seed=4)) as server:
        first = search(tmp_path, "linear", server)
        submit = next(n for n in first.tree.nodes.values() if n.kind == "submit")
        assert submit.status == "submitted"
        # The kill came after the submit step ran and before its verdict was written.
        log = tmp_path / "run.jsonl"
        events = read_events(log)
        cut = next(i for i, e in enumerate(events) if e["type"] == "node_executed" and e["id"] == submit.id)
        log.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events[: cut + 1]))
        again = session_for(tmp_path, server, nodes=1, strategy="linear")  # no budget left
        again.start()
        again.wait(180)
        again.close()
    tree = Tree.fold(read_events(log))
    node = tree.nodes[submit.id]
    # the same verdict as the run that was killed would have written (verified again, from its path)
    assert node.status == "submitted" and node.verified is not None
    assert node.resolved == submit.resolved and node.patch == submit.patch


# 10. A log whose last line was torn: the next event starts on a fresh line.
def test_resume_after_a_torn_line_loses_no_event(tmp_path):
    path = tmp_path / "torn.jsonl"
    whole = orjson.dumps({"type": "run_started", "ts": 1, "run": "r", "task": {}}) + b"\n"
    torn = orjson.dumps({"type": "node_added", "ts": 2, "run": "r", "id": "n1", "parent": None})[:25]
    path.write_bytes(whole + torn)
    with RunLog(path) as log:
        log.append({"type": "node_added", "id": "n2", "parent": None})
    counts = ReadCounts()
    events = read_events(path, counts)
    assert [e.get("id") for e in events] == [None, "n2"] and counts.damaged == 1


# 11. Provider errors kill the first rollout: the search starts again, within the budget.
@pytest.mark.slow
def test_a_first_rollout_killed_by_provider_errors_is_restarted(tmp_path):
    # 8 nodes: the two failed first steps, then a rollout that submits at its fourth step (DARS
    # would go on expanding to any larger budget, which this test is not about)
    with FakeLLM(Solver(TASK, wrong_rate=0.0, seed=4), faults=[500, 503]) as server:
        session = session_for(tmp_path, server, nodes=8, strategy="dars")
        session.restart_backoff = 0.05
        session.start()
        session.wait(180)
        session.close()
    tree = session.tree
    failed = [tree.nodes[c] for c in tree.children(ROOT) if tree.nodes[c].status == "failed"]
    assert len(failed) == 2 and "failed after 1 attempts" in failed[0].status_reason
    assert session.restarts == 2 and tree.stats()["submissions"] >= 1
    restarts = [e for e in read_events(tmp_path / "run.jsonl") if e.get("name") == "restart_search"]
    assert [e["attempt"] for e in restarts] == [1, 2]


def test_restarts_stop_when_the_provider_stays_down(tmp_path):
    with FakeLLM(Solver(TASK), faults=[500] * 20) as server:
        session = session_for(tmp_path, server, nodes=30, strategy="dars")
        session.restart_backoff = 0.01
        session.start()
        reason = session.wait(120)
        session.close()
    assert session.restarts == 3 and len(session.tree) == 4 and "exhausted" in reason


@pytest.mark.slow
def test_many_workers_never_pass_the_node_budget_by_more_than_one_step(tmp_path):
    with FakeLLM(Solver(TASK, wrong_rate=0.5, seed=8), delay_s=0.02) as server:
        sample = session_for(tmp_path, server, nodes=9, name="sample", workers=4, strategy="sample", samples=8)
        sample.start()
        sample.wait(180)
        sample.close()
        pruned = session_for(
            tmp_path, server, nodes=10, name="prune", workers=4, strategy="dars+prune", prune_m=3, prune_b=1
        )
        pruned.start()
        pruned.wait(180)
        pruned.close()
    assert len(sample.tree) == 9  # one node a step: exactly the budget
    assert 10 <= len(pruned.tree) <= 10 + 3 - 1


# 14. A provider's error that echoes the key is redacted from the log, stderr and the JSON result.
@pytest.mark.slow
@pytest.mark.subprocess
def test_a_key_echoed_by_the_provider_is_redacted_everywhere(tmp_path):
    key = "sk-live-0123456789abcdefSECRET"
    # the provider asks for no wait (retry-after-ms: 0): the backoff's own sleeps (1 + 2 + 4 + 8 s
    # and more) would be most of this test's time, and they are not what it is about
    echo = (500, f"Incorrect API key provided: {key}", {"retry-after-ms": "0"})
    with FakeLLM(Solver(TASK), faults=[echo] * 8) as server:
        log = tmp_path / "run.jsonl"
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "trajscope.tui.cli",
                "run",
                str(TASK.path),
                "--model",
                "openai/fake",
                "--api-base",
                server.url,
                "--api-key",
                key,
                "--out",
                str(log),
                "--headless",
                "--sandbox",
                "local",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    everything = result.stdout + result.stderr + log.read_text()
    assert "Incorrect API key provided: [redacted]" in everything
    assert key not in everything and "0123456789abcdef" not in everything
    assert json.loads(result.stdout)["log"] == str(log)  # the JSON result is still JSON
