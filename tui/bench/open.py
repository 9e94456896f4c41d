"""``trajscope bench open``: parse + fold + first paint and memory, follow-mode keep-up and
keypress latency. Each measurement runs in a fresh subprocess so memory figures are its own.

Method: *first paint* is the time from creating the app to the first frame the compositor
produces after the folded tree is attached (``App._display`` is wrapped to timestamp frames;
headless, so no terminal I/O is included).  *Keypress latency* is the time from posting a
key event to the first frame after the cursor moved: ``key_reading_*`` while the rest of a
file read in parts is still folded (ten, j and k in turn, a fifth of a second apart: the
time to read the file includes what they cost; none where the file is read whole),
``key_p50_ms`` once it is read. *Runs* times a folder of N runs: finding
them, the first frame after the runs screen's table holds every row, the reader filling
every row, and opening one run from the list.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from trajscope.tui.bench.frames import REPO, SIZE, FrameClock, key_latency, rss_mb, wait

READING_KEYS = 10


async def _first_paint(path: Path) -> dict:
    """First paint (the file's first part), then the whole file read, a cursor key and quitting."""
    from trajscope.tui.app import TrajscopeApp
    from trajscope.tui.bridge import Source

    start = time.perf_counter()
    app = TrajscopeApp(Source(path))
    clock = FrameClock(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait(lambda: getattr(app.screen, "model", None) is not None and not app.screen.tree.loading, 300)
        attached = time.perf_counter()
        await wait(lambda: clock.first_after(attached) is not None, 30)
        painted = clock.first_after(attached)
        tree = app.screen.tree
        reading = []  # keys pressed while the rest of the file is read (all_read_s includes them)
        while app.screen.reader is not None and len(reading) < READING_KEYS:
            reading.append(await key_latency(app, clock, tree, "jk"[len(reading) % 2]))
            await asyncio.sleep(0.2)
        await wait(lambda: app.screen.reader is None, 600)
        read = time.perf_counter()
        await pilot.pause()
        keys = sorted([await key_latency(app, clock, tree, key) for key in "jjjjjjjjjjkkkkkkkkkk"])
        tnodes = len(tree._tnodes)
        nodes = len(app.screen.model)
        quitting = time.perf_counter()
    return {
        "first_paint_s": round(painted - start, 3),
        "all_read_s": round(read - start, 2),
        "key_reading_p50_ms": round(statistics.median(reading) * 1000, 1) if reading else None,
        "key_reading_max_ms": round(max(reading) * 1000, 1) if reading else None,
        "key_p50_ms": round(keys[len(keys) // 2] * 1000, 1),
        "quit_s": round(time.perf_counter() - quitting, 3),
        "tree_nodes_built": tnodes,
        "nodes": nodes,
    }


async def _deep(n: int) -> dict:
    """One path of ``n`` steps: first paint, ``G`` to the last step once every line is listed,
    then quitting (leaving the app: its workers stop and its widgets go)."""
    from trajscope.engine.events import write_events
    from trajscope.engine.synthetic import linear_events
    from trajscope.engine.tree import ROOT
    from trajscope.tui.app import TrajscopeApp
    from trajscope.tui.bridge import Source

    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / f"linear-{n}.jsonl"
        write_events(target, linear_events(n))
        start = time.perf_counter()
        app = TrajscopeApp(Source(target))
        clock = FrameClock(app)
        async with app.run_test(size=SIZE) as pilot:
            await wait(lambda: getattr(app.screen, "model", None) is not None and not app.screen.tree.loading, 300)
            attached = time.perf_counter()
            await wait(lambda: clock.first_after(attached) is not None, 60)
            painted = clock.first_after(attached)
            tree = app.screen.tree
            await wait(lambda: app.screen.reader is None, 300)  # the whole file is read and folded
            read = time.perf_counter()
            await wait(lambda: ROOT in tree._populated, 300)
            listed = time.perf_counter()
            await pilot.press("G")
            await wait(lambda: tree.cursor_id == str(n), 60)
            last = time.perf_counter() - listed
            quitting = time.perf_counter()
        quit_s = time.perf_counter() - quitting
        return {
            "file": f"one path of {n:,} steps",
            "bytes": target.stat().st_size,
            "first_paint_s": round(painted - start, 3),
            "all_read_s": round(read - start, 2),
            "all_lines_listed_s": round(listed - start, 2),
            "G_to_last_s": round(last, 3),
            "quit_s": round(quit_s, 3),
            "peak_rss_mb": round(rss_mb(), 1),
        }


def measure_open(n: int | None, path: str | None = None) -> dict:
    from trajscope.engine.events import read_events, write_events
    from trajscope.engine.synthetic import synthetic_events
    from trajscope.engine.tree import Tree

    with tempfile.TemporaryDirectory() as tmp:
        if path is None:
            target = Path(tmp) / f"synthetic-{n}.jsonl"
            write_events(target, synthetic_events(n, seed=1))
        else:
            target = Path(path)
        # The app first, so the peak memory is the app's (the whole read below holds more).
        shown = asyncio.run(_first_paint(target))
        peak = round(rss_mb(), 1)
        t0 = time.perf_counter()
        if path is None:
            events = read_events(target)
        else:
            from trajscope.engine.formats import load

            events = load(target).events
        t1 = time.perf_counter()
        Tree.fold(events)
        t2 = time.perf_counter()
        del events
        result = {
            "file": Path(path).name if path else f"synthetic {n:,} nodes",
            "bytes": target.stat().st_size,
            "parse_s": round(t1 - t0, 3),
            "fold_s": round(t2 - t1, 3),
            **shown,
        }
    result["peak_rss_mb"] = peak
    return result


async def _follow(rate: int, seconds: float) -> dict:
    from trajscope.engine.events import write_events
    from trajscope.engine.synthetic import synthetic_events
    from trajscope.tui.app import TrajscopeApp
    from trajscope.tui.bridge import Source

    initial, extra = 1000, int(rate * seconds)
    all_events = list(synthetic_events(initial + extra, seed=2))
    cut = next(i for i, e in enumerate(all_events) if e["type"] == "node_added" and e["id"] == str(initial + 1))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "live.jsonl"
        write_events(path, all_events[:cut])
        rest = all_events[cut:]
        app = TrajscopeApp(Source(path, follow=True))
        clock = FrameClock(app)
        lags: list[int] = []
        written = [initial]
        done = threading.Event()

        def writer() -> None:
            import orjson

            per_tick = max(1, rate // 100)  # a chunk every 10 ms
            with open(path, "ab") as fh:
                start, i, sent = time.perf_counter(), 0, 0
                while i < len(rest):
                    chunk = []
                    while i < len(rest) and sent < per_tick:
                        chunk.append(rest[i])
                        sent += rest[i]["type"] == "node_added"
                        i += 1
                    fh.write(b"".join(orjson.dumps(e) + b"\n" for e in chunk))
                    fh.flush()
                    written[0] += sent
                    sent = 0
                    due = start + (written[0] - initial) / rate
                    time.sleep(max(0.0, due - time.perf_counter()))
            done.set()

        latencies: list[float] = []
        async with app.run_test(size=SIZE):
            await wait(lambda: getattr(app.screen, "model", None) is not None and not app.screen.tree.loading, 60)
            tree = app.screen.tree
            thread = threading.Thread(target=writer, daemon=True)
            t_start = time.perf_counter()
            thread.start()
            key = "j"
            while not done.is_set():
                latencies.append(await key_latency(app, clock, tree, key))
                lags.append(written[0] - len(app.screen.model))
                key = "k" if key == "j" else "j"
                await asyncio.sleep(0.1)
            write_s = time.perf_counter() - t_start
            t_done = time.perf_counter()
            await wait(lambda: len(app.screen.model) >= initial + extra, 60)
            catch_up = time.perf_counter() - t_done
            thread.join()
    latencies.sort()
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    return {
        "rate_nodes_per_s": rate,
        "events_per_node": 3,
        "seconds": round(write_s, 2),
        "achieved_nodes_per_s": round(extra / write_s),
        "keypresses": len(latencies),
        "key_latency_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "key_latency_p95_ms": round(p95 * 1000, 1),
        "key_latency_max_ms": round(latencies[-1] * 1000, 1),
        "max_lag_nodes": max(lags),
        "catch_up_after_writer_s": round(catch_up, 3),
        "peak_rss_mb": round(rss_mb(), 1),
    }


def make_runs_folder(root: Path, n: int) -> Path:
    """``n`` runs as a batch of mini-swe-agent output (one folder per instance), from the real
    2.x sample, with a harness summary that resolves every third."""
    sample = REPO / "tests" / "fixtures" / "real" / "mini-swe-agent" / "toolcall_submitted.traj.json"
    data = sample.read_bytes()
    resolved = []
    for i in range(n):
        name = f"repo__project-{i:05d}"
        (root / name).mkdir(parents=True)
        (root / name / f"{name}.traj.json").write_bytes(data)
        if i % 3 == 0:
            resolved.append(name)
    (root / "model.run1.json").write_text(json.dumps({"resolved_ids": resolved, "unresolved_ids": []}))
    return root


async def _runs(n: int) -> dict:
    from trajscope.engine.formats.collection import find_runs, find_verdicts
    from trajscope.tui.app import TrajscopeApp
    from trajscope.tui.bridge import RunsSource
    from trajscope.tui.screens.explorer import ExplorerScreen
    from trajscope.tui.screens.run_list import RunsScreen

    with tempfile.TemporaryDirectory() as tmp:
        root = make_runs_folder(Path(tmp), n)
        start = time.perf_counter()
        refs = find_runs(root)
        verdicts = find_verdicts(root)
        found = time.perf_counter()
        app = TrajscopeApp(RunsSource(root, refs, verdicts))
        clock = FrameClock(app)
        async with app.run_test(size=SIZE) as pilot:
            await wait(lambda: isinstance(app.screen, RunsScreen) and app.screen.listed_s is not None, 60)
            listed = time.perf_counter()
            await wait(lambda: clock.first_after(listed) is not None, 30)
            painted = clock.first_after(listed)
            screen = app.screen
            await wait(lambda: screen.read == len(screen.rows), 600)
            all_read = time.perf_counter()
            opened = time.perf_counter()
            await pilot.press("enter")
            await wait(lambda: isinstance(app.screen, ExplorerScreen) and app.screen.model is not None, 60)
            open_s = time.perf_counter() - opened
            rows, resolved = len(screen.rows), sum(r.verdict == "resolved" for r in screen.rows)
    return {
        "runs": rows,
        "resolved": resolved,
        "find_s": round(found - start, 3),
        "listed_first_paint_s": round(painted - start, 3),
        "all_rows_filled_s": round(all_read - start, 2),
        "open_one_run_s": round(open_s, 3),
        "peak_rss_mb": round(rss_mb(), 1),
    }


def _child(mode: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "trajscope.tui.bench.open", mode, *args], capture_output=True, text=True, cwd=REPO
    )
    if out.returncode != 0:
        raise RuntimeError(f"benchmark {mode} failed: {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def largest_real_fixture() -> Path | None:
    """The largest real file that is one run (a multi-run file is measured by the runs part)."""
    from trajscope.engine.formats.collection import jsonl_runs

    files = [
        p
        for p in (REPO / "tests" / "fixtures" / "real").rglob("*")
        if p.is_file() and p.name != "SOURCES.md" and not (p.suffix == ".jsonl" and jsonl_runs(p))
    ]
    return max(files, key=lambda p: p.stat().st_size) if files else None


def add_options(p) -> None:
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="synthetic logs of these many nodes")
    p.add_argument("--follow-rate", type=int, default=2000, help="node events a second in the follow test")
    p.add_argument("--deep", type=int, default=100_000, help="steps on one path for the depth test (0: skip)")
    p.add_argument("--runs", type=int, default=1000, help="runs in the folder the runs screen lists (0: skip)")
    p.add_argument("--json", action="store_true")


def run(args) -> int:
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    results: dict = {"open": [], "follow": None}
    for n in args.sizes:
        console.print(f"open: synthetic log of {n:,} nodes…")
        results["open"].append(_child("open", str(n)))
    fixture = largest_real_fixture()
    if fixture is not None:
        console.print(f"open: largest real fixture {fixture.name}…")
        results["open"].append(_child("real", str(fixture)))
    if args.deep:
        console.print(f"deep: one path of {args.deep:,} steps…")
        results["deep"] = _child("deep", str(args.deep))
    if args.runs:
        console.print(f"runs: a folder of {args.runs:,} runs in the runs screen…")
        results["runs"] = _child("runs", str(args.runs))
    console.print(f"follow: {args.follow_rate:,} appended nodes a second with keypresses…")
    results["follow"] = _child("follow", str(args.follow_rate), "5")
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    table = Table(title="trajscope bench open")
    columns = (
        "file",
        "bytes",
        "parse_s",
        "fold_s",
        "first_paint_s",
        "all_read_s",
        "key_reading_p50_ms",
        "key_p50_ms",
        "quit_s",
    )
    for column in (*columns, "tree_nodes_built", "peak_rss_mb"):
        table.add_column(column)
    columns = [str(c.header) for c in table.columns]
    for row in results["open"]:
        table.add_row(
            *(f"{row[c]:,}" if isinstance(row[c], int) else str(row[c] if row[c] is not None else "-") for c in columns)
        )
    Console().print(table)
    Console().print(_measures("follow mode", results["follow"]))
    if results.get("deep"):
        Console().print(_measures("one long path (depth)", results["deep"]))
    if results.get("runs"):
        Console().print(_measures("runs screen (a folder of runs)", results["runs"]))
    return 0


def _measures(title: str, figures: dict):
    from rich.table import Table

    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value")
    for key, value in figures.items():
        table.add_row(key, str(value))
    return table


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "open":
        result = measure_open(int(sys.argv[2]))
    elif mode == "real":
        result = measure_open(None, sys.argv[2])
    elif mode == "deep":
        result = asyncio.run(_deep(int(sys.argv[2])))
    elif mode == "runs":
        result = asyncio.run(_runs(int(sys.argv[2])))
    else:
        result = asyncio.run(_follow(int(sys.argv[2]), float(sys.argv[3])))
    print(json.dumps(result))
