"""``trajscope bench policy``: the demo policy's resolve rate per bundled task over seeds."""

from __future__ import annotations

import json
from contextlib import nullcontext


def add_options(p) -> None:
    p.add_argument("--seeds", type=int, default=20, help="runs (seeds) per task")
    p.add_argument("--sandbox", choices=["local", "docker"], default="local")
    p.add_argument("--workers", type=int, default=2, help="runs at once")
    p.add_argument("--json", action="store_true")


def run(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from trajscope.engine.policy.demo import DemoPolicy
    from trajscope.engine.policy_runs import linear_rates
    from trajscope.engine.tasks import load_task_dir

    from trajscope.demo_data import task_dirs

    tasks = [load_task_dir(p) for p in task_dirs()]
    console = Console(stderr=True)
    rows = linear_rates(
        tasks,
        lambda task, seed: nullcontext(DemoPolicy(seed=seed)),
        list(range(args.seeds)),
        sandbox=args.sandbox,
        workers=args.workers,
        say=lambda line: console.print(line, highlight=False, markup=False),
    )
    total = sum(r["resolved"] for r in rows), sum(r["runs"] for r in rows)
    if args.json:
        print(json.dumps({"rows": rows, "resolved": total[0], "runs": total[1]}, indent=2))
        return 0
    table = Table(title=f"demo policy, one linear run per seed ({args.seeds} seeds, {args.sandbox} sandbox)")
    for column in ("task", "resolved", "rate", "95% CI", "mean steps", "median wall s"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["task"],
            f"{r['resolved']}/{r['runs']}",
            f"{r['rate']:.2f}",
            f"{r['ci95'][0]:.2f}–{r['ci95'][1]:.2f}",
            str(r["mean_steps"]),
            str(r["median_wall_s"]),
        )
    table.add_row("all", f"{total[0]}/{total[1]}", f"{total[0] / max(1, total[1]):.2f}", "", "", "")
    Console().print(table)
    return 0
