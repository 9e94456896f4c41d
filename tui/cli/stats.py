"""``trajscope stats``: the counts of a run log or an importable trajectory."""

from __future__ import annotations

import argparse
import json



def add_parser(sub) -> None:
    p = sub.add_parser("stats", help="nodes, leaves, depth, branch points, submissions, tokens, cost")
    p.add_argument("path")
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    from engine.formats import load
    from engine.tree import Tree

    loaded = load(args.path)
    tree = Tree.fold(loaded.events)
    stats = tree.stats() | {
        "format": loaded.format,
        "skipped_lines": loaded.counts.damaged + loaded.counts.unknown,
        "dangling_events": tree.counts.dangling,
    }
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{args.path} ({loaded.format})", show_header=False, box=None)
    for key, value in stats.items():
        table.add_row(key.replace("_", " "), f"{value:,}" if isinstance(value, int) else str(value))
    Console().print(table)
    return 0
