"""``trajscope bench sandbox``: what sandbox operations cost.

For each kind: the overhead of a command that does nothing (`true`), a
snapshot after an edit, restoring a state, forking a sandbox at a state, and
restoring the state at the end of a 20-action path by replaying every action
from the base (what DARS does), against restoring it from its snapshot.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable

from trajscope.demo_data import TASKS
from trajscope.engine.tasks import load_task_dir

BENCH_TASK = TASKS / "semver-prerelease"


def _path_actions(n: int = 20) -> list[tuple[str, str, str]]:
    """A plausible agent path: reads and searches, edits, and test runs."""
    actions: list[tuple[str, str, str]] = []
    for i in range(n):
        step = i % 5
        if step == 0:
            actions.append(("run", "grep -rn 'prerelease' semverlite | head -20", ""))
        elif step == 1:
            actions.append(("run", "cat semverlite/version.py", ""))
        elif step == 2:
            actions.append(("write", "semverlite/notes_%d.py" % i, f"# step {i}\nVALUE = {i}\n"))
        elif step == 3:
            actions.append(("write", "semverlite/errors.py", f"# edited at step {i}\n" + "x = 1\n" * i))
        else:
            actions.append(("run", "python3 -m pytest -q -p no:cacheprovider tests", ""))
    return actions


def _apply(box, action: tuple[str, str, str]) -> None:
    kind, what, text = action
    if kind == "run":
        box.run(what, timeout=120)
    else:
        box.write(what, text)


def _ms(samples: list[float]) -> dict:
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))]
    return {"median_ms": round(statistics.median(samples) * 1000, 1), "p95_ms": round(p95 * 1000, 1), "n": len(samples)}


def measure(kind: str, repeat: int = 20, say: Callable[[str], None] = lambda _: None) -> dict:
    task = load_task_dir(BENCH_TASK)
    box = task.open_sandbox(kind)
    try:
        say(f"{kind}: command overhead")
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            box.run("true", timeout=30)
            times.append(time.perf_counter() - t)
        out: dict = {"kind": kind, "true": _ms(times)}

        say(f"{kind}: snapshot after an edit")
        times, refs = [], []
        for i in range(repeat):
            box.write("semverlite/bench_edit.py", f"VALUE = {i}\n")
            t = time.perf_counter()
            refs.append(box.snapshot())
            times.append(time.perf_counter() - t)
        out["snapshot"] = _ms(times)

        say(f"{kind}: restore")
        times = []
        for i in range(repeat):
            t = time.perf_counter()
            box.restore(refs[i % 2] if i % 2 else box.base)
            times.append(time.perf_counter() - t)
        out["restore"] = _ms(times)

        say(f"{kind}: fork")
        times = []
        for i in range(max(3, repeat // 4)):
            t = time.perf_counter()
            child = box.fork(refs[i % len(refs)])
            times.append(time.perf_counter() - t)
            child.close()
        out["fork"] = _ms(times)

        say(f"{kind}: a 20-action path, replayed and restored")
        actions = _path_actions(20)
        box.restore(box.base)
        for action in actions:
            _apply(box, action)
        end = box.snapshot()
        replays, restores = [], []
        for _ in range(3):
            t = time.perf_counter()
            box.restore(box.base)
            for action in actions:
                _apply(box, action)
            replays.append(time.perf_counter() - t)
            if box.snapshot() != end:
                raise RuntimeError("replaying the path did not reach the same state")
            box.restore(box.base)
            t = time.perf_counter()
            box.restore(end)
            restores.append(time.perf_counter() - t)
        out["replay_20"] = _ms(replays)
        out["restore_20"] = _ms(restores)
        out["restore_speedup"] = round(statistics.median(replays) / statistics.median(restores), 1)

        say(f"{kind}: a command that prints 1 GiB")
        out["output_1g"] = endless_output(box, 1 << 30)
        return out
    finally:
        box.close()


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def endless_output(box, size: int) -> dict:
    """What a command that prints ``size`` bytes costs the engine: wall time, the growth of
    the engine's resident memory at its peak (sampled every 10 ms), and the bytes kept."""
    import os
    import threading

    base = _rss_mb()
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.01):
            peak[0] = max(peak[0], _rss_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t = time.perf_counter()
    result = box.run(f"head -c {size} /dev/zero | tr '\\0' x", timeout=600)
    seconds = time.perf_counter() - t
    done.set()
    sampler.join()
    kept = os.path.getsize(result.output_path) if result.output_path else len(result.output)
    return {
        "seconds": round(seconds, 2),
        "printed_bytes": result.output_size,
        "kept_bytes": kept,
        "engine_rss_growth_mb": round(peak[0] - base, 1),
    }


def measure_all(kinds: list[str], repeat: int, say: Callable[[str], None]) -> list[dict]:
    from trajscope.engine.sandbox.docker import docker_available

    results = []
    for kind in kinds:
        if kind == "docker":
            ok, why = docker_available()
            if not ok:
                say(f"docker: skipped ({why})")
                results.append({"kind": "docker", "skipped": why})
                continue
        results.append(measure(kind, repeat, say))
    return results


def add_options(p) -> None:
    p.add_argument(
        "--kinds", nargs="+", choices=["local", "docker"], default=["local", "docker"], help="the sandboxes to measure"
    )
    p.add_argument("--repeat", type=int, default=20, help="repetitions of each sandbox operation")
    p.add_argument("--json", action="store_true")


def run(args) -> int:
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    results = measure_all(args.kinds, args.repeat, lambda line: console.print(line))
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    table = Table(title="sandbox operations (median / p95 ms)")
    for column in (
        "sandbox",
        "true",
        "snapshot",
        "restore",
        "fork",
        "replay 20 actions",
        "restore 20",
        "restore vs replay",
    ):
        table.add_column(column, justify="right")
    for r in results:
        if "skipped" in r:
            table.add_row(r["kind"], f"skipped: {r['skipped']}", *[""] * 6)
            continue
        cells = [
            f"{r[k]['median_ms']:.0f} / {r[k]['p95_ms']:.0f}"
            for k in ("true", "snapshot", "restore", "fork", "replay_20", "restore_20")
        ]
        table.add_row(r["kind"], *cells, f"{r['restore_speedup']}×")
    Console().print(table)
    output = Table(title="a command that prints 1 GiB: what the engine pays")
    for column in ("sandbox", "wall s", "printed", "kept on disk", "engine memory growth"):
        output.add_column(column, justify="right")
    for r in results:
        if "output_1g" in r:
            o = r["output_1g"]
            output.add_row(
                r["kind"],
                f"{o['seconds']:.1f}",
                f"{o['printed_bytes']:,}",
                f"{o['kept_bytes']:,}",
                f"{o['engine_rss_growth_mb']:.0f} MB",
            )
    Console().print(output)
    return 0
