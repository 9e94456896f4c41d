"""``trajscope bench sandbox``: what sandbox operations cost, on any repository.

Costs must follow what changed, not the repository's size, so the bench takes the bundled
task, any folder (``--repo``), a task or SWE-bench row and its image (``--task``), or a large
public repository fetched once from PyPI (``--fetch django``, ``large_repo``). For each kind:
opening, the overhead of a command that does nothing (`true`), a snapshot after a one-file
edit, restoring a state (and restoring one after a command edited a file and made one), forking at a state (the first fork apart: it may copy the
repository), closing; on the bundled task also restoring the state at the end of a 20-action
path by replaying every action from the base (what DARS does), against restoring it from its
snapshot, and a command that prints 1 GiB.
"""

from __future__ import annotations

import json
import shlex
import statistics
import time
from collections.abc import Callable

from pathlib import Path

from trajscope.demo_data import TASKS
from trajscope.tui.bench.large_repo import SDISTS, FetchError, cache_dir, fetch

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


def _edit_target(box) -> str:
    """A file of the repository to edit between snapshots: a one-file change, whatever its size."""
    found = box.run("find . -path ./.git -prune -o -type f -name '*.py' -size -64k -print | sort | head -1", 60)
    path = found.output.strip()
    if not found.ok or not path:
        raise RuntimeError("the repository has no Python file under 64 KiB to edit")
    return path.removeprefix("./")


def open_box(kind: str, repo: str | None, task_spec: str | None, instance: str | None):
    """The sandbox the bench measures: a plain folder (``--repo``), a task (``--task``, a
    SWE-bench row and its image included), or the bundled task."""
    if repo is None:
        from trajscope.engine.tasks import load_task

        return load_task(task_spec or BENCH_TASK, instance).open_sandbox(kind)
    if kind == "docker":
        from trajscope.engine.sandbox.docker import DockerSandbox

        return DockerSandbox(source=repo)
    from trajscope.engine.sandbox.local import LocalSandbox

    return LocalSandbox(repo)


def measure(
    kind: str,
    repeat: int = 20,
    say: Callable[[str], None] = lambda _: None,
    repo: str | None = None,
    task_spec: str | None = None,
    instance: str | None = None,
    path: bool = True,
) -> dict:
    t = time.perf_counter()
    box = open_box(kind, repo, task_spec, instance)
    out: dict = {"kind": kind, "open_s": round(time.perf_counter() - t, 2)}
    try:
        say(f"{kind}: command overhead")
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            box.run("true", timeout=30)
            times.append(time.perf_counter() - t)
        out["true"] = _ms(times)

        say(f"{kind}: snapshot after a one-file edit")
        target = _edit_target(box)
        original = box.read(target)
        times, refs = [], []
        for i in range(repeat):
            box.write(target, original + f"\nBENCH_EDIT = {i}\n")
            t = time.perf_counter()
            refs.append(box.snapshot())
            times.append(time.perf_counter() - t)
        out["snapshot"] = _ms(times)

        say(f"{kind}: restore")
        times = []
        for i in range(repeat):
            t = time.perf_counter()
            box.restore(refs[i % len(refs)] if i % 2 else box.base)
            times.append(time.perf_counter() - t)
        out["restore"] = _ms(times)

        # What a search's restore meets: a command edited a file and made one (a script).
        say(f"{kind}: restore after a command")
        times = []
        for i in range(repeat):
            box.run(f"printf 'BENCH = {i}\\n' >> {shlex.quote(target)} && echo {i} > bench_scratch.py", timeout=60)
            t = time.perf_counter()
            box.restore(refs[i % len(refs)])
            times.append(time.perf_counter() - t)
        out["restore_cmd"] = _ms(times)

        # The first fork may pay for a copy of the repository; the later ones reuse what a
        # closed fork left (DARS's checks fork and close one sandbox per candidate).
        say(f"{kind}: fork")
        firsts, times, closes = [], [], []
        for i in range(max(3, repeat // 4) + 1):
            t = time.perf_counter()
            child = box.fork(refs[i % len(refs)])
            (times if i else firsts).append(time.perf_counter() - t)
            t = time.perf_counter()
            child.close()
            closes.append(time.perf_counter() - t)
        out["first_fork"] = _ms(firsts)
        out["fork"] = _ms(times)
        out["close"] = _ms(closes)
        if not path:
            return out

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


def measure_all(kinds: list[str], repeat: int, say: Callable[[str], None], **where) -> list[dict]:
    from trajscope.engine.sandbox.docker import docker_available

    results = []
    for kind in kinds:
        if kind == "docker":
            ok, why = docker_available()
            if not ok:
                say(f"docker: skipped ({why})")
                results.append({"kind": "docker", "skipped": why})
                continue
        results.append(measure(kind, repeat, say, **where))
    return results


def add_options(p) -> None:
    p.add_argument(
        "--kinds", nargs="+", choices=["local", "docker"], default=["local", "docker"], help="the sandboxes to measure"
    )
    p.add_argument("--repeat", type=int, default=20, help="repetitions of each sandbox operation")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--repo", metavar="DIR", help="measure a copy of this folder (any repository)")
    where.add_argument("--task", metavar="TASK", help="measure this task's sandbox (a task directory, a SWE-bench row)")
    where.add_argument(
        "--fetch",
        choices=sorted(SDISTS),
        help="measure a large public repository, its sdist fetched from PyPI once into ~/.cache/trajscope/bench",
    )
    p.add_argument("--instance", help="the SWE-bench instance of --task")
    p.add_argument("--json", action="store_true")


def run(args) -> int:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(stderr=True)
    repo = args.repo
    if args.fetch:
        console.print(Text(f"fetching {args.fetch} (once; kept in {cache_dir()})"))
        repo = str(fetch(args.fetch))
    if repo is not None and not Path(repo).is_dir():
        raise FetchError(f"{repo} is not a directory")
    where = dict(repo=repo, task_spec=args.task, instance=args.instance, path=repo is None and args.task is None)
    results = measure_all(args.kinds, args.repeat, lambda line: console.print(Text(line)), **where)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    title = repo or args.task or BENCH_TASK.name
    table = Table(title=Text(f"sandbox operations on {title} (median / p95 ms; open in s)"))
    columns = ("open s", "true", "snapshot", "restore", "restore after a command", "first fork", "fork", "close")
    keys = ("true", "snapshot", "restore", "restore_cmd", "first_fork", "fork", "close")
    for column in ("sandbox", *columns):
        table.add_column(column, justify="right")
    for r in results:
        if "skipped" in r:
            table.add_row(r["kind"], Text(f"skipped: {r['skipped']}"), *[""] * (len(columns) - 1))
            continue
        table.add_row(
            r["kind"], f"{r['open_s']:.2f}", *(f"{r[k]['median_ms']:.0f} / {r[k]['p95_ms']:.0f}" for k in keys)
        )
    Console().print(table)
    if not any("replay_20" in r for r in results):
        return 0
    path = Table(title="a 20-action path: replayed from the base, against restored (median / p95 ms)")
    for column in ("sandbox", "replay 20 actions", "restore 20", "restore vs replay"):
        path.add_column(column, justify="right")
    for r in results:
        if "replay_20" in r:
            cells = [f"{r[k]['median_ms']:.0f} / {r[k]['p95_ms']:.0f}" for k in ("replay_20", "restore_20")]
            path.add_row(r["kind"], *cells, f"{r['restore_speedup']}×")
    Console().print(path)
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
