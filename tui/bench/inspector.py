"""``trajscope bench inspector``: trajscope's explorer against mini-swe-agent's inspector on
trajectories written by mini-swe-agent's own agent, side by side.

mini-swe-agent is a benchmark-only tool here, installed in a scratch venv (``--mini-python``,
default ``/tmp/msa/bin/python``; made with ``python3 -m venv /tmp/msa &&
/tmp/msa/bin/pip install "mini-swe-agent>=2"``). For each size it writes a trajectory with
mini's agent (``mini_writer.py``, cached in ``--cache``), then measures both apps in fresh
processes, interleaved, ``--repeat`` times (``app_clock.py``), after one unmeasured start of
each: launch to first paint, the
latency of "previous step" keys near the end (p50, p95), a jump to the last step, and peak
memory; it prints the machine, one row a size (first paint, key p50 near the end, peak
memory: trajscope / inspector = ratio, below 1: trajscope is ahead), then every measure.

Both apps run as installed ones do, with their compiled bytecode: the children may write it
(``PYTHONDONTWRITEBYTECODE`` is dropped), into a folder of the cache (``PYTHONPYCACHEPREFIX``,
never into either package), and the unmeasured start writes it; a checkout run with that
variable set would otherwise compile trajscope's modules on every start and not the inspector's.
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

from trajscope.tui.bench.frames import REPO

HERE = Path(__file__).resolve().parent
MEASURES = ("first_paint_s", "prev_p50_ms", "prev_p95_ms", "jump_last_s", "peak_rss_mb")


def script(steps: int):
    """The simulated model's answers: reads and searches of a notes file, then a submit."""
    counter = itertools.count()
    commands = [
        "sed -n '{a},{b}p' notes.txt",
        "grep -n 'fox' notes.txt | head -{n}",
        "ls -la",
        "cat notes.txt",
        "python3 -c 'print(sum(range({n})))'",
    ]

    def answer(request: dict, index: int) -> dict:
        turn = next(counter)
        if turn >= steps - 1:
            return {
                "tool": "bash",
                "args": {"command": "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && git diff"},
                "thought": "Nothing unusual; I am done.",
            }
        a = (turn * 7) % 360
        command = commands[turn % len(commands)].format(a=a + 1, b=a + 40, n=50 + turn % 150)
        return {
            "tool": "bash",
            "args": {"command": command},
            "thought": f"Step {turn + 1}: I look at the notes again ({command.split()[0]}).",
        }

    return answer


def write(mini_python: str, out: Path, steps: int) -> Path:
    from trajscope.engine.policy.simulated import ModelServer

    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with ModelServer(script(steps)) as server:
        subprocess.run(
            [mini_python, str(HERE / "mini_writer.py"), server.url, str(out), str(steps)],
            check=True,
            timeout=3600,
            capture_output=True,
        )
    return out


def child_env(cache: Path) -> dict[str, str]:
    """The apps' environment: compiled modules kept in the bench's cache, as an install keeps them."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(cache / "bytecode")
    return env


def measure(python: str, which: str, path: Path, env: dict[str, str] | None = None) -> dict:
    out = subprocess.run(
        [python, str(HERE / "app_clock.py"), which, str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
        env=env,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{which} on {path.name} failed: {out.stderr.strip().splitlines()[-3:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    """The machine the figures come from (other work on it shows in the load average)."""
    model = ""
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        model = platform.machine()
    return f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}"


def size_table(results: list[dict]):
    """One row a size, as the README shows it: trajscope / inspector = ratio (below 1: trajscope
    is faster or smaller)."""
    from rich.table import Table

    table = Table(title="trajscope / the mini-swe-agent inspector (medians; below 1: trajscope is ahead)")
    table.add_column("steps (file)", no_wrap=True)
    columns = (("first paint", "first_paint_s", 1, " s"), ("key p50 near the end", "prev_p50_ms", 0, " ms"))
    columns += (("peak memory", "peak_rss_mb", 0, " MB"),)
    for title, *_ in columns:
        table.add_column(title, justify="right", no_wrap=True)
    for row in results:
        cells = []
        for _, m, digits, unit in columns:
            ours, theirs = row["trajscope"][m], row["inspector"][m]
            fmt = f"{{:.{2 if digits else 0}f}}"
            cells.append(f"{fmt.format(ours)} / {fmt.format(theirs)}{unit} = {row['ratio'][m]}")
        table.add_row(f"{row['steps']:,} ({row['mb']} MB)", *cells)
    return table


def add_options(p) -> None:
    p.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000], help="steps of each trajectory")
    p.add_argument("--repeat", type=int, default=5, help="measurements of each app on each trajectory")
    p.add_argument(
        "--mini-python", default="/tmp/msa/bin/python", help="the python of a venv with mini-swe-agent (benchmark only)"
    )
    p.add_argument(
        "--cache",
        default=str(Path.home() / ".cache" / "trajscope" / "bench-inspector"),
        help="where the written trajectories are kept between runs",
    )
    p.add_argument("--json", action="store_true")


def run(args) -> int:
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    if not Path(args.mini_python).exists():
        print(
            f"trajscope: {args.mini_python} does not exist; make a venv with mini-swe-agent "
            "(see `trajscope bench inspector --help`)",
            file=sys.stderr,
        )
        return 2
    results = []
    env = child_env(Path(args.cache))
    load_before = os.getloadavg()[0]
    for steps in args.sizes:
        path = Path(args.cache) / f"mini-{steps}" / f"mini-{steps}.traj.json"
        console.print(f"{steps:,} steps: writing the trajectory with mini-swe-agent's agent (cached)…")
        write(args.mini_python, path, steps)
        runs: dict[str, list[dict]] = {"trajscope": [], "inspector": []}
        apps = (("trajscope", sys.executable), ("inspector", args.mini_python))
        for which, python in apps:  # unmeasured: writes the bytecode, warms the file cache
            measure(python, which, path, env)
        for i in range(args.repeat):
            for which, python in apps:
                console.print(f"  {which} {i + 1}/{args.repeat}")
                runs[which].append(measure(python, which, path, env))
        row = {"steps": steps, "mb": round(path.stat().st_size / 1e6, 1)}
        for which, items in runs.items():
            row[which] = {m: round(statistics.median(r[m] for r in items), 3) for m in MEASURES}
        row["ratio"] = {
            m: round(row["trajscope"][m] / row["inspector"][m], 2) if row["inspector"][m] else None for m in MEASURES
        }
        results.append(row)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"machine: {machine()}; load average before {load_before:.1f}, after {os.getloadavg()[0]:.1f}")
    out = Console(width=max(Console().width, 120))  # the table whole in a file or a pipe too
    out.print(size_table(results))
    detail = Table(title="every measure (medians)")
    for column in ("steps (MB)", "measure", "trajscope", "inspector", "ratio"):
        detail.add_column(column)
    for row in results:
        for m in MEASURES:
            detail.add_row(
                f"{row['steps']:,} ({row['mb']} MB)",
                m,
                str(row["trajscope"][m]),
                str(row["inspector"][m]),
                str(row["ratio"][m]),
            )
    out.print(detail)
    return 0
