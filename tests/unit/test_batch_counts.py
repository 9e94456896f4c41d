"""A batch's resolve counts and run names, the same in every view: the summary and predictions
files, the headless table, the fleet screen's totals and ``stats`` on the batch's folder. A search
whose selected patch failed while another of its submissions passed is "selected resolved 0/1 ·
any resolved 1/1" everywhere (the files said 0 and ``stats`` said 1, neither saying which), and
every run is named after the task as the person named it, not "run" nor the id in its task.json."""

from __future__ import annotations

import json

import orjson

from trajscope.engine.actions import make_action
from trajscope.engine.batch.executors import LocalExecutor
from trajscope.engine.batch.fleet import Fleet
from trajscope.engine.batch.worker import SearchWorker
from trajscope.engine.events import read_events
from trajscope.engine.formats.builder import RunBuilder
from trajscope.engine.tree import Tree
from tests.conftest import DEMO_TASKS

TASK = next(p for p in DEMO_TASKS if p.name == "duration-ms-unit")
TASK_ID = json.loads((TASK / "task.json").read_text())["instance_id"]  # demo__humandur-23


def two_submissions() -> list[dict]:
    """A search's log as a batch worker wrote it before runs had names (``run``): two
    submissions, the first resolved, the second (the one selected) not."""
    builder = RunBuilder("run", {"instance_id": TASK_ID}, "test")
    for ok in (True, False):
        node = builder.turn(None, make_action("bash", {"command": "true"}), observation="", exit_code=0)
        builder.submit(node, f"diff {ok}", {"resolved": ok, "passed": [], "failed": []})
    return list(builder.finish("done"))


def finished_batch(tmp_path) -> tuple[Fleet, list[dict]]:
    spec = {"name": TASK_ID, "task": str(TASK), "instance": None, "search": {}}
    fleet = Fleet([spec], LocalExecutor(1), tmp_path / "batch", 1)
    member = fleet.members[0]
    events = two_submissions()
    member.log.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    member.tree, member.state = Tree.fold(events), "finished"
    member.result = {"resolved": False, "verdict": "unresolved", "patch": "diff False"}
    return fleet, events


def test_every_view_of_a_batch_says_selected_and_any_resolved_in_the_same_words(tmp_path, capsys, monkeypatch):
    from trajscope.tui.cli import main
    from trajscope.tui.cli.batch import write_outputs
    from trajscope.tui.screens.fleet import headline

    said = "selected resolved 0/1 · any resolved 1/1"
    fleet, _ = finished_batch(tmp_path)
    try:
        totals = write_outputs(fleet, fleet.out_dir, "demo")
    finally:
        fleet.close()
    assert (totals["selected_resolved"], totals["any_resolved"]) == (0, 1) and "resolved" not in totals
    row = json.loads((fleet.out_dir / "summary.jsonl").read_text())
    assert (row["selected_resolved"], row["any_resolved"], row["verdict"]) == (False, True, "unresolved")
    assert said in headline(totals, "local")

    monkeypatch.setenv("COLUMNS", "200")
    assert main(["stats", str(fleet.out_dir)]) == 0
    assert said in capsys.readouterr().out
    assert main(["stats", str(fleet.out_dir), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert (stats["summary"]["selected_resolved"], stats["summary"]["any_resolved"]) == (0, 1)
    assert stats["runs"][0]["selected_resolved"] is False and stats["runs"][0]["any_resolved"] is True


def test_a_batch_names_its_runs_after_the_tasks_as_typed(tmp_path, capsys):
    from trajscope.tui.cli import main
    from trajscope.tui.cli.batch import write_outputs

    fleet, _ = finished_batch(tmp_path)
    try:
        write_outputs(fleet, fleet.out_dir, "demo")
    finally:
        fleet.close()
    member = fleet.members[0]
    assert member.name == "duration-ms-unit" and member.log.name == "duration-ms-unit.jsonl"
    row = json.loads((fleet.out_dir / "summary.jsonl").read_text())
    assert (row["run"], row["instance_id"]) == ("duration-ms-unit", TASK_ID)
    # the harness grades the task's own id
    assert json.loads((fleet.out_dir / "predictions.jsonl").read_text())["instance_id"] == TASK_ID
    # the worker writes its log under the run's name, so the events' "run" is that name
    worker = SearchWorker(member.spec)
    try:
        assert worker.log.name == "duration-ms-unit.jsonl"
        worker.log.write_bytes(b"")
        from trajscope.engine.events import RunLog

        assert RunLog(worker.log).run == "duration-ms-unit"
    finally:
        worker.dispose()
    # a folder of logs from before (every event's run "run"): each row is named as its file
    for name in ("a", "b"):
        (fleet.out_dir / f"{name}.jsonl").write_bytes(member.log.read_bytes())
    assert {e["run"] for e in read_events(member.log)} == {"run"}
    assert main(["stats", str(fleet.out_dir), "--json"]) == 0
    names = [r["run"] for r in json.loads(capsys.readouterr().out)["runs"]]
    assert sorted(names) == ["a", "b", "duration-ms-unit"]
