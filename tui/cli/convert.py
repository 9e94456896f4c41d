"""``trajscope convert``: import another tool's trajectory into a run log."""

from __future__ import annotations

import argparse
from pathlib import Path

from tui.errors import UserError


def add_parser(sub) -> None:
    p = sub.add_parser("convert", help="import SWE-agent / mini-swe-agent / DARS files into a run log")
    p.add_argument("path")
    p.add_argument("-o", "--output", required=True, metavar="OUT.jsonl")


def run(args: argparse.Namespace) -> int:
    from engine.events import write_events
    from engine.formats import load
    from engine.tree import Tree

    loaded = load(args.path)
    out = Path(args.output)
    if out.exists() and out.resolve() == Path(args.path).resolve():
        raise UserError("the output would overwrite the input")
    write_events(out, loaded.events)
    stats = Tree.fold(loaded.events).stats()
    print(f"{args.path} ({loaded.format}) -> {out}: {stats['nodes']} nodes, "
          f"{stats['branch_points']} branch points, {stats['submissions']} submissions")
    return 0
