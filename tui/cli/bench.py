"""``trajscope bench SUITE``: the performance benchmarks (tui/bench.py and its suites)."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    from engine.search import STRATEGIES

    p = sub.add_parser("bench", help="performance benchmarks")
    p.add_argument("suite", choices=["open", "sandbox", "policy", "prm", "search", "ui"])
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--rate", type=float, default=50, help="ui suite: nodes a second the live search produces")
    p.add_argument("--seconds", type=float, default=15, help="ui suite: how long keys are pressed")
    p.add_argument("--follow-rate", type=int, default=2000, help="node events a second in the follow test")
    p.add_argument("--kinds", nargs="+", choices=["local", "docker"], default=["local", "docker"],
                   help="sandboxes the sandbox suite measures")
    p.add_argument("--repeat", type=int, default=20, help="repetitions of each sandbox operation")
    p.add_argument("--seeds", type=int, default=20, help="policy suite: seeds (runs) per task")
    p.add_argument("--sandbox", choices=["local", "docker"], default="local", help="policy suite: the sandbox")
    p.add_argument("--workers", type=int, default=2, help="policy suite: runs at once")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32, 256], help="prm suite: batch sizes")
    p.add_argument("--strategies", nargs="+", default=list(STRATEGIES),
                   choices=STRATEGIES, help="search suite: strategies")
    p.add_argument("--wrong-rates", type=float, nargs="+", default=[0.3, 0.5],
                   help="search suite: the fake model's chances of a wrong fix")
    p.add_argument("--max-nodes", type=int, default=30, help="search suite: the node budget of every search")
    p.add_argument("--tasks", nargs="+", help="search suite: only tasks whose id contains one of these")
    p.add_argument("--out-dir", help="search suite: where the run logs go")
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    from tui.bench import run_bench

    return run_bench(args)
