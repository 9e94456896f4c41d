"""``trajscope bench SUITE``: the performance benchmarks, one module per suite, each with
its own options (``add_options``) and ``run(args)``; ``frames`` holds the frame clock the
suites that drive the app share. Speed and memory targets live here, not in tests."""

from __future__ import annotations

import importlib

SUITES = {
    "open": "parse, fold, first paint and memory of large logs; follow-mode keep-up",
    "sandbox": "what sandbox operations cost, and a command that prints 1 GiB",
    "policy": "the demo policy's resolve rate per task (linear rollouts)",
    "prm": "scorer speed per batch size and its ranking quality",
    "search": "strategies side by side at equal node budgets; --view selection: the selectors on the same trees",
    "ui": "keypress latency in the live app while a search grows",
    "inspector": "trajscope against mini-swe-agent's inspector on trajectories its own agent wrote",
    "batch": "batch throughput (one process, worker processes, a two-node Ray cluster) and the driver's ceiling",
    "serve": "viewers one served search holds, and the memory each costs",
    "replay": "rebuilding the state at a step of an imported run: replay against a snapshot's restore",
}


def add_parser(sub) -> None:
    """``bench`` with one sub-command per suite (``trajscope bench sandbox --kinds local``)."""
    bench = sub.add_parser("bench", help="performance benchmarks")
    suites = bench.add_subparsers(dest="suite", required=True, metavar="SUITE")
    for name, help_text in SUITES.items():
        module = importlib.import_module(f"trajscope.tui.bench.{name}")
        p = suites.add_parser(name, help=help_text)
        module.add_options(p)
        p.set_defaults(bench=module.run)


def run(args) -> int:
    return args.bench(args)
