"""``trajscope batch``: many searches in worker processes or on a real Ray cluster (one node, and
two nodes on this machine with Ray's own cluster utilities), the logs streamed to the driver."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trajscope.engine.events import read_events
from trajscope.engine.tree import Tree
from tests.conftest import DEMO_TASKS
from tests.support import trajscope, wait_until

pytestmark = pytest.mark.subprocess

# what these searches set; every other setting is the spec's default (the demo policy...)
SETTINGS = dict(sandbox="local", timeout=60, strategy="sample", prm="heuristic", max_nodes=30)


def search(**settings) -> dict:
    """The SearchSpec JSON a worker is given."""
    from trajscope.engine.spec import SearchSpec

    return SearchSpec(**(SETTINGS | settings)).to_json(secrets=True)


def specs(names, **settings) -> list[dict]:
    return [
        {"name": p.name, "task": str(p), "instance": None, "search": search(**settings)}
        for p in DEMO_TASKS
        if p.name in names
    ]


def assert_normal_log(path: Path) -> Tree:
    """A run log like any other: it folds, ends with run_finished, and no node is added twice."""
    events = read_events(path)
    added = [e["id"] for e in events if e["type"] == "node_added"]
    assert len(added) == len(set(added)), f"{path}: a node was added twice"
    tree = Tree.fold(events)
    assert tree.finished and events[-1]["type"] == "run_finished"
    return tree


def test_a_batch_of_the_eight_bundled_tasks_in_worker_processes(tmp_path):
    out = tmp_path / "batch"
    proc = trajscope(
        "batch",
        *DEMO_TASKS,
        "--parallel",
        "4",
        "--sandbox",
        "local",
        "--prm",
        "heuristic",
        "--max-nodes",
        "8",
        "--headless",
        "--out",
        out,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["instances"] == 8 and summary["done"] == 8 and summary["failed"] == 0
    assert summary["executor"] == "local" and summary["nodes_per_s"] > 0
    rows = [json.loads(line) for line in (out / "summary.jsonl").read_text().splitlines()]
    predictions = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and {p["instance_id"] for p in predictions} == {r["instance_id"] for r in rows}
    for row in rows:
        tree = assert_normal_log(Path(row["log"]))
        assert row["state"] == "finished" and row["nodes"] == len(tree)
        assert row["selected_resolved"] == bool(row["result"]["resolved"])
        assert row["any_resolved"] == (tree.stats()["resolved"] > 0) >= row["selected_resolved"]
        # the run is named after the task's folder, in its log's events too
        assert row["run"] == Path(row["log"]).stem and {e["run"] for e in read_events(Path(row["log"]))} == {row["run"]}
    assert summary["selected_resolved"] == sum(r["selected_resolved"] for r in rows) >= 1
    assert summary["any_resolved"] == sum(r["any_resolved"] for r in rows) >= summary["selected_resolved"]
    assert {r["run"] for r in rows} == {p.name for p in DEMO_TASKS}
    # the logs are ordinary run logs: stats reads the folder as many runs
    stats = trajscope("stats", out)
    # the title names the folder first: where it wraps depends on the length of pytest's tmp path
    assert stats.returncode == 0 and "8 run" in " ".join((stats.stdout + stats.stderr).split())


def test_a_search_that_raises_fails_its_row_and_the_rest_go_on(tmp_path):
    from trajscope.engine.batch.executors import LocalExecutor
    from trajscope.engine.batch.fleet import Fleet

    good = specs({"semver-prerelease"}, max_nodes=10)
    bad = [{"name": "missing", "task": str(tmp_path / "nope"), "instance": None, "search": search()}]
    fleet = Fleet(bad + good, LocalExecutor(2), tmp_path / "out", 2)
    fleet.start()
    try:
        assert fleet.wait(300)
    finally:
        fleet.stop()
    failed, ok = fleet.members
    assert failed.state == "failed" and "does not exist" in failed.reason
    assert ok.state == "finished" and assert_normal_log(ok.log)


def test_ctrl_c_stops_every_search_and_leaves_no_worker(tmp_path):
    out = tmp_path / "batch"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trajscope.tui.cli",
            "batch",
            *map(str, DEMO_TASKS[:3]),
            "--parallel",
            "3",
            "--sandbox",
            "local",
            "--prm",
            "heuristic",
            "--pace",
            "0.5",
            "--max-nodes",
            "200",
            "--headless",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        logs = list(out.glob("*.jsonl")) if out.exists() else []
        if len(logs) == 3 and all(sum(e["type"] == "node_executed" for e in read_events(p)) >= 2 for p in logs):
            break
        time.sleep(0.2)
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert len(children) >= 3
    os.kill(proc.pid, signal.SIGINT)
    proc.wait(120)

    def running(pid):
        try:
            return "zombie" not in Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return False

    # every worker is gone; multiprocessing's resource tracker ends by itself a moment after
    # the driver (it reads until the driver's end of its pipe closes), so a short deadline
    assert wait_until(lambda: not any(map(running, children)), timeout=10), [pid for pid in children if running(pid)]
    for log in out.glob("*.jsonl"):
        if log.name in ("summary.jsonl", "predictions.jsonl"):
            continue
        assert read_events(log)[-1]["type"] == "run_finished"


# Two Ray clusters of one machine collide where Ray fixes a port (the head's dashboard agent,
# 52365) or a file (/tmp/ray/ray_current_cluster): under pytest-xdist the tests that start one
# share a group, which runs on one worker, one after the other.
RAY = pytest.mark.xdist_group("ray")


@pytest.fixture
def ray_shutdown():
    ray = pytest.importorskip("ray", reason="Ray is a test extra (trajscope[ray])")
    yield
    if ray.is_initialized():
        ray.shutdown()


@RAY
def test_a_batch_on_a_local_ray_cluster(tmp_path, ray_shutdown):
    out = tmp_path / "batch"
    proc = trajscope(
        "batch",
        *DEMO_TASKS[:2],
        "--executor",
        "ray",
        "--parallel",
        "2",
        "--sandbox",
        "local",
        "--prm",
        "heuristic",
        "--max-nodes",
        "8",
        "--headless",
        "--out",
        out,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["executor"] == "ray" and summary["done"] == 2 and summary["failed"] == 0
    for row in map(json.loads, (out / "summary.jsonl").read_text().splitlines()):
        assert len(row["node"]) > 20  # a Ray node id
        assert_normal_log(Path(row["log"]))


@RAY
def test_two_nodes_placement_a_killed_node_and_forwarded_controls(tmp_path, ray_shutdown):
    """Two nodes with the custom resource: searches land on both; a node is killed mid-batch,
    Ray restarts its searches on the other, and they go on from the driver's log."""
    import ray
    from ray.cluster_utils import Cluster

    from trajscope.engine.batch.executors import RayExecutor
    from trajscope.engine.batch.fleet import Fleet

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        nodes = [cluster.add_node(num_cpus=2, resources={"sandbox": 2}) for _ in range(2)]
        cluster.wait_for_nodes()
        cluster.connect()  # the driver on the head node (this process), as a person's machine would be
        executor = RayExecutor(4, cluster.address)
        names = ["semver-prerelease", "ini-merge-case", "slugify-accents", "wrap-exact-width"]
        # 12 nodes a search: at the kill the searches hold 3 to 5 (paced), so the victim's are
        # mid-run and their restarts still have steps to add; 30 only made the searches longer
        fleet = Fleet(specs(set(names), pace=0.3, max_nodes=12), executor, tmp_path / "out", 4)
        fleet.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all(m.state == "running" and len(m.tree) >= 3 for m in fleet.members):
            time.sleep(0.2)
        placed = {m.node for m in fleet.members}
        assert placed == {n.node_id for n in nodes}, "the searches did not land on both nodes"

        # controls reach a search on another node, and come back as its state
        target = fleet.members[1]
        fleet.command(target, "pause")
        assert wait_until(lambda: target.status.get("paused") is True)
        fleet.command(target, "resume")
        assert wait_until(lambda: target.status.get("paused") is False)

        # a node with searches on it, other than the one this driver's client is attached to
        driver = ray._private.worker.global_worker.node._raylet_socket_name
        victim = next(n for n in nodes if n._raylet_socket_name != driver)
        on_victim = [m for m in fleet.members if m.node == victim.node_id]
        before = {m.name: m.log.read_bytes() for m in on_victim}
        cluster.remove_node(victim)
        assert fleet.wait(400)
        fleet.stop()
        for member in fleet.members:
            tree = assert_normal_log(member.log)
            assert member.state == "finished", (member.name, member.state, member.reason)
            assert member.node != victim.node_id
        for member in on_victim:  # restarted elsewhere, nothing recorded before the kill lost
            assert member.restarts >= 1
            after = member.log.read_bytes()
            assert after.startswith(before[member.name]) and len(after) > len(before[member.name])
            tree = Tree.fold(read_events(member.log))
            assert len(tree) > before[member.name].count(b'"node_added"')
    finally:
        ray.shutdown()
        cluster.shutdown()
