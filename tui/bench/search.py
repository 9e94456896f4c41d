"""``trajscope bench search``: strategies side by side at equal node budgets.

Every bundled task, with the simulated model (through litellm, over HTTP) at
each wrong-fix rate, over seeds, in the local sandbox: each strategy searches
with the same node budget and the builtin PRM; the patch is chosen by PRM
selection (never by the hidden tests), and then verified. Reported per
strategy and rate: the resolve rate of the selected patch with a 95 % Wilson
interval, the rate at which any submission resolved (what a perfect selector
would reach), and mean nodes, tokens and wall time with 95 % intervals.
``--view selection`` compares the selectors instead, each on the same searched trees
(tui/bench/selection.py).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path


@contextmanager
def simulated_search(
    task, strategy: str, seed: int, wrong_rate: float, max_nodes: int, out: Path, scorer, select: str | None = None
):
    """One finished search by the simulated model, as ``(session, server, model)``; the model
    server still answers inside the block, so judges can ask it. The strategy's settings are
    those ``trajscope search --model M`` starts with, ``select`` (when given) set as
    ``--select`` sets it: the selection decides which of the agent's own checks run."""
    from trajscope.engine.policy.simulated import ModelServer, Solver
    from trajscope.engine.policy.llm import LLMPolicy
    from trajscope.engine.session import Session
    from trajscope.engine.spec import SearchSpec

    model = f"openai/simulated-wrong-{wrong_rate:g}"
    with ModelServer(Solver(task, wrong_rate=wrong_rate, seed=seed)) as server:
        spec = SearchSpec(model=model, api_base=server.url, strategy=strategy, samples=max_nodes, max_nodes=max_nodes)
        session = Session(
            task,
            LLMPolicy(model, api_base=server.url),
            out,
            scorers=[scorer],
            budget=spec.budget(),
            config=(replace(spec, select=select) if select else spec).search_config(),
            seed=seed,
        )
        session.start()
        session.wait()
        session.close()
        yield session, server, model


def one_search(task, strategy: str, seed: int, wrong_rate: float, max_nodes: int, out: Path, scorer) -> dict:
    from trajscope.engine.search.select import select_prm

    started = time.perf_counter()
    with simulated_search(task, strategy, seed, wrong_rate, max_nodes, out, scorer, select="prm") as (session, _, _):
        pass
    tree = session.tree
    selected, _ = select_prm(tree)
    stats = tree.stats()
    return {
        "task": task.instance_id,
        "strategy": strategy,
        "seed": seed,
        "wrong_rate": wrong_rate,
        "resolved": bool(selected and tree.nodes[selected].resolved),
        "any_resolved": stats["resolved"] > 0,
        "nodes": stats["nodes"],
        "tokens": stats["tokens"],
        "submissions": stats["submissions"],
        "wall_s": round(time.perf_counter() - started, 2),
        "finished": session.finished,
    }


def _mean_ci(values: list[float]) -> tuple[float, float]:
    mean = statistics.mean(values)
    half = 1.96 * statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else 0.0
    return round(mean, 2), round(half, 2)


def summarise(rows: list[dict]) -> list[dict]:
    from trajscope.engine.policy_runs import wilson

    out = []
    for key in sorted({(r["wrong_rate"], r["strategy"]) for r in rows}):
        group = [r for r in rows if (r["wrong_rate"], r["strategy"]) == key]
        solved, anyone = sum(r["resolved"] for r in group), sum(r["any_resolved"] for r in group)
        low, high = wilson(solved, len(group))
        out.append(
            {
                "wrong_rate": key[0],
                "strategy": key[1],
                "searches": len(group),
                "resolved": solved,
                "rate": round(solved / len(group), 3),
                "ci95": [round(low, 3), round(high, 3)],
                "any_resolved_rate": round(anyone / len(group), 3),
                "nodes": _mean_ci([r["nodes"] for r in group]),
                "tokens": _mean_ci([r["tokens"] for r in group]),
                "wall_s": _mean_ci([r["wall_s"] for r in group]),
            }
        )
    return out


VIEWS = {
    # view: (seeds, strategies, wrong rates, node budget) when the option is not given
    "strategies": (20, None, [0.3, 0.5], 30),
    "selection": (1, ["dars", "sample"], [0.5], 20),
}


def add_options(p) -> None:
    from trajscope.engine.search import STRATEGIES
    from trajscope.tui.bench.selection import project_selectors

    p.add_argument(
        "--view",
        choices=list(VIEWS),
        default="strategies",
        help="strategies: the resolve rate of each at equal budgets; selection: each selector on the same trees "
        "(oracle rate, selected rate, efficiency)",
    )
    p.add_argument("--seeds", type=int, help="searches (seeds) per task, strategy and rate (20; selection view 1)")
    p.add_argument(
        "--strategies",
        nargs="+",
        choices=STRATEGIES,
        help="the strategies compared (every one; selection view: dars sample)",
    )
    p.add_argument(
        "--wrong-rates",
        type=float,
        nargs="+",
        help="the fake model's chances of a wrong fix (0.3 0.5; selection view 0.5)",
    )
    p.add_argument("--max-nodes", type=int, help="the node budget of every search (30; selection view 20)")
    p.add_argument(
        "--selectors",
        nargs="+",
        choices=project_selectors(),
        default=sorted(project_selectors(), key=lambda name: name != "prm"),
        help="selection view: the selectors compared (every one, prm first); the first is the paired baseline",
    )
    p.add_argument("--tasks", nargs="+", help="only tasks whose id contains one of these")
    p.add_argument("--workers", type=int, default=2, help="searches at once")
    p.add_argument("--out-dir", help="where the run logs go")
    p.add_argument("--json", action="store_true")


def fill_defaults(args) -> None:
    """The options left out take their view's defaults (a selection run is kept to a few minutes)."""
    from trajscope.engine.search import STRATEGIES

    seeds, strategies, rates, max_nodes = VIEWS[args.view]
    args.seeds = seeds if args.seeds is None else args.seeds
    args.strategies = args.strategies or strategies or list(STRATEGIES)
    args.wrong_rates = args.wrong_rates or rates
    args.max_nodes = max_nodes if args.max_nodes is None else args.max_nodes


def run(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from trajscope.engine.files import Folder, replace_file
    from trajscope.engine.tasks import load_task_dir
    from trajscope.tui.bench import selection

    fill_defaults(args)
    console = Console(stderr=True)
    from trajscope.demo_data import task_dirs

    tasks = [load_task_dir(p) for p in task_dirs()]
    tasks = [t for t in tasks if not args.tasks or any(name in t.instance_id for name in args.tasks)]
    if not tasks or args.seeds < 1:
        from trajscope.tui.errors import UserError

        raise UserError(
            f"no bundled task's id contains {' or '.join(args.tasks)}" if not tasks else "--seeds must be at least 1"
        )
    with Folder(args.out_dir or tempfile.mkdtemp(prefix="trajscope-bench-search-")) as folder:
        out_dir = folder.path  # the user's --out-dir, resolved once
    local = threading.local()

    def job(spec):
        task, strategy, seed, rate = spec
        if not hasattr(local, "scorer"):
            from trajscope.engine.prm.model import BuiltinScorer  # torch: only once there is a search to score

            local.scorer = BuiltinScorer(device="cpu")
        path = out_dir / f"{task.instance_id}-{strategy}-w{rate:g}-s{seed}.jsonl"
        path.unlink(missing_ok=True)
        if args.view == "selection":
            searching = simulated_search(task, strategy, seed, rate, args.max_nodes, path, local.scorer)
            return selection.select_row(searching, task, strategy, seed, rate, args.selectors)
        return one_search(task, strategy, seed, rate, args.max_nodes, path, local.scorer)

    specs = [
        (t, s, seed, r) for r in args.wrong_rates for seed in range(args.seeds) for t in tasks for s in args.strategies
    ]
    rows = []
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        for i, row in enumerate(pool.map(job, specs), 1):
            rows.append(row)
            if args.view == "selection":
                outcome = (
                    "oracle "
                    + ("yes" if row["oracle"] else "no")
                    + ", "
                    + ", ".join(
                        f"{name} {'yes' if pick['resolved'] else 'no'}" for name, pick in row["selected"].items()
                    )
                )
                took = row["search_s"] + row["select_s"]
            else:
                outcome, took = ("resolved" if row["resolved"] else "not resolved"), row["wall_s"]
            console.print(
                f"{i}/{len(specs)} {row['task']} {row['strategy']} w{row['wrong_rate']:g} "
                f"seed {row['seed']}: {outcome}, {row['nodes']} nodes, {took:.1f} s",
                highlight=False,
            )
    replace_file(out_dir / "rows.json", json.dumps(rows, indent=1).encode())
    if args.view == "selection":
        selection.report(rows, args.selectors, args, len(tasks), out_dir)
        console.print(f"run logs and rows.json in {out_dir}", markup=False)
        return 0
    summary = summarise(rows)
    if args.json:
        print(
            json.dumps(
                {
                    "summary": summary,
                    "max_nodes": args.max_nodes,
                    "seeds": args.seeds,
                    "tasks": len(tasks),
                    "logs": str(out_dir),
                },
                indent=2,
            )
        )
        return 0
    table = Table(title=f"bench search: {len(tasks)} tasks × {args.seeds} seeds, node budget {args.max_nodes}")
    for column in (
        "wrong rate",
        "strategy",
        "resolved (selected)",
        "95% CI",
        "any resolved",
        "nodes",
        "tokens",
        "wall s",
    ):
        table.add_column(column)
    for r in summary:
        table.add_row(
            f"{r['wrong_rate']:g}",
            r["strategy"],
            f"{r['resolved']}/{r['searches']} ({r['rate']:.2f})",
            f"{r['ci95'][0]:.2f}–{r['ci95'][1]:.2f}",
            f"{r['any_resolved_rate']:.2f}",
            f"{r['nodes'][0]} ± {r['nodes'][1]}",
            f"{r['tokens'][0]:,.0f} ± {r['tokens'][1]:,.0f}",
            f"{r['wall_s'][0]} ± {r['wall_s'][1]}",
        )
    Console().print(table)
    console.print(f"run logs and rows.json in {out_dir}", markup=False)
    return 0
