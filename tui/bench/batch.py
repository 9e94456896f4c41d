"""``trajscope bench batch``: a batch's throughput, and how much one screen can watch.

Throughput: the bundled tasks, each a search (demo policy slowed to ``--pace`` seconds a step
to stand for a model's latency, local sandbox, heuristic PRM, ``sample`` strategy), run
(1) one after another in this process (the baseline), (2) by ``trajscope batch``'s local
executor with 1, 2 and 4 worker processes, (3) on a Ray cluster of two nodes on this machine
(Ray's cluster utilities, 2 ``sandbox`` slots each). Searches per hour and nodes per second.

The driver's ceiling: replayed run logs are served to the driver by N stand-in workers as fast
as asked (no search runs), at a total rate that steps up; the driver pulls, writes and folds
them while the fleet screen (headless, 160x40) takes a cursor key every 100 ms. For each rate:
events per second ingested, how far the driver fell behind, and the keys' p95 latency from
posting the key to the table's cursor having moved (the UI thread handled it). Not to the next
frame: a bare Textual DataTable app, with no batch at all, draws its first frame after a cursor
move 0.37-0.40 s later in a headless run (Textual 8.2.8), whatever the load, so that part says
nothing about the driver. The ceiling is the highest rate with p95 under 100 ms and the driver
taking at least 90% of what is offered.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from trajscope.demo_data import TASKS as TASKS_DIR


def add_options(p) -> None:
    p.add_argument("--pace", type=float, default=0.1, help="seconds a demo-policy step takes (a model's latency)")
    p.add_argument("--max-nodes", type=int, default=16, help="node budget of each search")
    p.add_argument("--parallel", type=int, nargs="+", default=[1, 2, 4], help="local worker counts to measure")
    p.add_argument("--no-ray", action="store_true", help="skip the two-node Ray cluster")
    p.add_argument(
        "--rates",
        type=float,
        nargs="+",
        default=[500, 1000, 2000, 4000, 8000],
        help="events per second the stand-in workers offer, in total",
    )
    p.add_argument("--members", type=int, default=16, help="stand-in workers for the ceiling")
    p.add_argument("--seconds", type=float, default=6, help="seconds each ceiling rate is held")
    p.add_argument("--json", action="store_true")


def _search(pace: float, max_nodes: int) -> dict:
    from trajscope.engine.spec import SearchSpec

    return SearchSpec(
        sandbox="local", timeout=60, strategy="sample", prm="heuristic", max_nodes=max_nodes, samples=2, pace=pace
    ).to_json()


def _specs(pace: float, max_nodes: int) -> list[dict]:
    tasks = sorted(p for p in TASKS_DIR.iterdir() if (p / "task.json").is_file())
    return [{"name": p.name, "task": str(p), "instance": None, "search": _search(pace, max_nodes)} for p in tasks]


def _figures(name: str, searches: int, nodes: int, seconds: float) -> dict:
    return {
        "setup": name,
        "searches": searches,
        "nodes": nodes,
        "wall_s": round(seconds, 2),
        "searches_per_hour": round(searches / seconds * 3600, 1),
        "nodes_per_s": round(nodes / seconds, 2),
    }


def baseline(specs: list[dict]) -> dict:
    """One process, one search after another."""
    from trajscope.engine.batch.worker import SearchWorker

    started, nodes = time.monotonic(), 0
    for spec in specs:
        worker = SearchWorker(spec)
        worker.start()
        while worker.state in ("idle", "starting", "running"):
            time.sleep(0.05)
        nodes += (worker.result or {}).get("nodes", 0)
        worker.dispose()
    return _figures("one process (baseline)", len(specs), nodes, time.monotonic() - started)


def fleet_run(name: str, specs: list[dict], executor, parallel: int) -> dict:
    from trajscope.engine.batch.fleet import Fleet

    out = Path(tempfile.mkdtemp(prefix="trajscope-bench-batch-"))
    try:
        fleet = Fleet(specs, executor, out, parallel)
        started = time.monotonic()
        fleet.start()
        fleet.wait()
        seconds = time.monotonic() - started
        fleet.stop()
        failed = [m.name for m in fleet.members if m.state != "finished"]
        figures = _figures(name, len(specs), sum(len(m.tree) for m in fleet.members), seconds)
        figures["failed"] = failed
        return figures
    finally:
        shutil.rmtree(out, ignore_errors=True)


def two_node_ray(specs: list[dict]) -> dict:
    import ray
    from ray.cluster_utils import Cluster

    from trajscope.engine.batch.executors import RayExecutor

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        for _ in range(2):
            cluster.add_node(num_cpus=2, resources={"sandbox": 2})
        cluster.wait_for_nodes()
        cluster.connect()
        return fleet_run("ray, 2 nodes x 2 slots", specs, RayExecutor(4, cluster.address), 4)
    finally:
        ray.shutdown()
        cluster.shutdown()


# -- the driver's ceiling ---------------------------------------------------------------------------
class _Replay:
    """A stand-in worker: serves a recorded log's lines at ``rate`` events a second."""

    def __init__(self, lines: list[bytes], rate: float) -> None:
        self.lines, self.rate = lines, rate
        self.started = time.monotonic()
        self.incarnation = uuid.uuid4().hex
        self.sent = 0
        self.stopped = False

    def call(self, method: str, *args, timeout: float = 30.0):
        if method == "read":
            due = min(len(self.lines), int((time.monotonic() - self.started) * self.rate))
            data = b"".join(self.lines[self.sent : due])
            self.sent = due
            state = "stopped" if self.stopped else "running"
            return {"incarnation": self.incarnation, "data": data, "status": {"state": state, "host": "replay"}}
        if method == "start":
            return {}
        if method == "close":
            self.stopped = True
        return None

    def kill(self) -> None:
        self.stopped = True


class _ReplayExecutor:
    name = "replay"
    restarts_itself = True

    def __init__(self, lines: list[bytes], rate: float) -> None:
        self.lines, self.rate, self.handles = lines, rate, []

    def spawn(self, spec: dict) -> _Replay:
        handle = _Replay(self.lines, self.rate)
        self.handles.append(handle)
        return handle

    def describe(self) -> str:
        return "replay"

    def shutdown(self) -> None:
        pass


def _replay_lines(n: int) -> list[bytes]:
    """``n`` event lines of a plausible search: a chain of nodes executed and scored."""
    from trajscope.engine.events import dumps, make_event

    lines = [dumps(make_event("run_started", "bench", task={"instance_id": "replay"}, config={}))]
    parent = None
    i = 0
    while len(lines) < n:
        i += 1
        node = f"n{i}"
        lines.append(
            dumps(
                make_event(
                    "node_added",
                    "bench",
                    id=node,
                    parent=parent,
                    action={"tool": "bash", "args": {"command": f"ls {i}"}, "raw": f"ls {i}"},
                    thought="look around " * 4,
                    tokens_in=900,
                    tokens_out=60,
                    cost=0.0004,
                )
            )
        )
        lines.append(
            dumps(
                make_event(
                    "node_executed", "bench", id=node, observation="file.py\n" * 20, exit_code=0, duration_s=0.01
                )
            )
        )
        lines.append(dumps(make_event("node_scored", "bench", id=node, scorer="heuristic", score=0.5)))
        parent = node if i % 7 else None
    return [line + b"\n" for line in lines[:n]]


class _Cursor:
    def __init__(self, table) -> None:
        self.table = table

    @property
    def cursor_line(self) -> int:
        return self.table.cursor_row


async def _ceiling_at(rate: float, members: int, seconds: float) -> dict:
    from trajscope.tui.app import TrajscopeApp
    from trajscope.engine.batch.fleet import Fleet
    from trajscope.tui.remote import FleetSource
    from textual import events as tevents

    from trajscope.tui.bench.frames import wait

    per_member = rate / members
    lines = _replay_lines(int(per_member * (seconds + 10)) + 10)
    executor = _ReplayExecutor(lines, per_member)
    out = Path(tempfile.mkdtemp(prefix="trajscope-bench-ceiling-"))
    specs = [{"name": f"replay-{i:03d}", "task": "", "instance": None, "search": {}} for i in range(members)]
    fleet = Fleet(specs, executor, out, members)
    app = TrajscopeApp(FleetSource(fleet, out))
    latencies: list[float] = []

    async def key_latency(cursor, key: str) -> float:
        before = cursor.cursor_line
        posted = time.perf_counter()
        app.post_message(tevents.Key(key, key))
        await wait(lambda: cursor.cursor_line != before, 10)
        return time.perf_counter() - posted

    try:
        async with app.run_test(size=(160, 40)):
            fleet.start()
            from textual.widgets import DataTable

            table = app.screen.query_one(DataTable)
            await wait(lambda: table.row_count == members, 30)
            cursor = _Cursor(table)
            t0 = time.perf_counter()
            events0 = sum(m.events for m in fleet.members)
            key = "down"
            while time.perf_counter() - t0 < seconds:
                latencies.append(await key_latency(cursor, key))
                key = "up" if key == "down" else "down"
                await asyncio.sleep(0.1)
            elapsed = time.perf_counter() - t0
            ingested = sum(m.events for m in fleet.members) - events0
            offered = sum(min(len(lines), int((time.monotonic() - h.started) * per_member)) for h in executor.handles)
            taken = sum(h.sent for h in executor.handles)
    finally:
        fleet.stopping.set()
        for handle in executor.handles:
            handle.stopped = True
        fleet.wait(10)
        shutil.rmtree(out, ignore_errors=True)
    latencies.sort()
    return {
        "offered_events_per_s": rate,
        "members": members,
        "ingested_events_per_s": round(ingested / elapsed, 1),
        "behind_events": max(0, offered - taken),
        "key_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "key_p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))] * 1000, 1),
        "keys": len(latencies),
    }


def run(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from trajscope.engine.batch.executors import LocalExecutor

    console = Console(stderr=True)
    specs = _specs(args.pace, args.max_nodes)
    console.print(
        f"batch: {len(specs)} searches (demo policy at {args.pace:g} s a step, {args.max_nodes} nodes "
        "each, local sandbox); the baseline first…"
    )
    results = [baseline(specs)]
    for parallel in args.parallel:
        console.print(f"local executor, {parallel} worker process(es)…")
        results.append(fleet_run(f"local, {parallel} process(es)", specs, LocalExecutor(parallel), parallel))
    if not args.no_ray:
        console.print("ray, a two-node cluster on this machine…")
        try:
            results.append(two_node_ray(specs))
        except ImportError:
            console.print("[yellow]Ray is not installed (pip install 'trajscope[ray]'): skipped[/]")
    base = results[0]["searches_per_hour"]
    table = Table(title="throughput")
    for column in ("setup", "searches", "nodes", "wall s", "searches/h", "nodes/s", "× baseline"):
        table.add_column(column)
    for r in results:
        table.add_row(
            r["setup"],
            str(r["searches"]),
            str(r["nodes"]),
            f"{r['wall_s']:.1f}",
            f"{r['searches_per_hour']:.0f}",
            f"{r['nodes_per_s']:.2f}",
            f"{r['searches_per_hour'] / base:.2f}" if base else "",
        )
    console.print(table)

    ceiling = []
    for rate in args.rates:
        console.print(f"driver ceiling: {args.members} stand-in workers offering {rate:g} events/s…")
        ceiling.append(asyncio.run(_ceiling_at(rate, args.members, args.seconds)))
    table = Table(title="the driver's ceiling (fleet screen, cursor keys every 100 ms)")
    for column in ("offered ev/s", "ingested ev/s", "behind", "key p50 ms", "key p95 ms"):
        table.add_column(column)
    for c in ceiling:
        table.add_row(
            f"{c['offered_events_per_s']:g}",
            f"{c['ingested_events_per_s']:.0f}",
            str(c["behind_events"]),
            f"{c['key_p50_ms']:.1f}",
            f"{c['key_p95_ms']:.1f}",
        )
    console.print(table)
    ok = [c for c in ceiling if c["key_p95_ms"] < 100 and c["ingested_events_per_s"] >= 0.9 * c["offered_events_per_s"]]
    best = max((c["ingested_events_per_s"] for c in ok), default=0.0)
    console.print(f"ceiling: {best:.0f} events/s with keys under 100 ms p95")
    if args.json:
        print(json.dumps({"throughput": results, "ceiling": ceiling, "ceiling_events_per_s": best}, indent=2))
    return 0
