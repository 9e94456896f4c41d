"""The search spec in real searches (local sandbox): what a demo recorded is what
``search --resume`` goes on with, a batch worker is built from the spec's JSON alone, and the
API key never reaches the log."""

from __future__ import annotations

import json

from trajscope.engine.events import read_events
from trajscope.engine.spec import SearchSpec
from tests.conftest import DEMO_TASKS
from tests.support import wait_until

TASK = next(p for p in DEMO_TASKS if p.name == "semver-prerelease")
KEY = "sk-test-0123456789abcdefXYZ"


def _spec_of(log) -> dict:
    started = next(e for e in read_events(log) if e["type"] == "run_started")
    return started["config"]["spec"]


def test_search_resume_of_a_demo_log_keeps_dars_prune_and_two_workers(tmp_path, monkeypatch, capsys):
    from trajscope.engine import launch
    from trajscope.tui.cli import main

    log = tmp_path / "demo.jsonl"
    code = main(
        [
            "demo",
            str(TASK),
            "--headless",
            "--pace",
            "0",
            "--max-nodes",
            "4",
            "--prm",
            "heuristic",
            "--sandbox",
            "local",
            "--api-key",
            KEY,
            "--out",
            str(log),
        ]
    )
    assert code in (0, 1), capsys.readouterr().err
    recorded = _spec_of(log)
    assert (recorded["strategy"], recorded["workers"], recorded["prune_b"]) == ("dars+prune", 2, 2)
    # the key: not in the recorded spec, nowhere in the log (not even redacted: it was never written)
    assert "api_key" not in recorded and KEY.encode() not in log.read_bytes()
    capsys.readouterr()

    built = []
    real = launch.build_session

    def spy(spec, task, out):
        built.append(spec)
        return real(spec, task, out)

    monkeypatch.setattr(launch, "build_session", spy)
    code = main(["search", str(TASK), "--resume", "--headless", "--out", str(log), "--max-nodes", "7"])
    err = capsys.readouterr().err
    assert code in (0, 1), err
    spec = built[0]
    assert (spec.strategy, spec.workers, spec.prune_b, spec.prm, spec.max_nodes) == ("dars+prune", 2, 2, "heuristic", 7)
    assert "except max_nodes 7 (recorded 4) given here" in err
    assert "dars+prune with demo" in err and "2 worker(s)" in err


def test_a_batch_worker_runs_the_search_its_spec_json_describes(tmp_path):
    from trajscope.engine.batch.worker import SearchWorker

    spec = SearchSpec(
        strategy="sample", samples=2, max_nodes=6, sandbox="local", prm="heuristic", timeout=60, api_key=KEY
    )
    # the JSON a driver hands over a pipe or to a Ray actor, nothing else
    job = json.loads(
        json.dumps(
            {
                "name": TASK.name,
                "task": str(TASK),
                "instance": None,
                "search": spec.to_json(secrets=True),
                "log": str(tmp_path / "run.jsonl"),
            }
        )
    )
    worker = SearchWorker(job)
    try:
        worker.start()
        assert wait_until(lambda: worker.state in ("finished", "failed"), 120), worker.state
        assert worker.state == "finished", worker.error
        assert worker.result["strategy"] == "sample" and worker.session.budget.nodes == 6
        assert worker.session.policy.name == "demo policy" and [s.name for s in worker.session.scorers] == ["heuristic"]
        assert _spec_of(worker.log) == spec.to_json() and KEY.encode() not in worker.log.read_bytes()
    finally:
        worker.dispose()
