"""The ``trajscope`` command (DESIGN section 8)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.events import write_events
from engine.formats import FormatError, check_head, load
from engine.tree import Tree


class UserError(Exception):
    """Something the user can fix; printed as one sentence, exit code 2."""


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise UserError(f"{path} does not exist")
    if path.is_dir():
        raise UserError(f"{path} is a directory, not a file")


def cmd_open(args: argparse.Namespace) -> int:
    path = Path(args.path)
    _check_readable(path)
    if args.replay is not None and args.replay <= 0:
        raise UserError("--replay SPEED must be a positive number")
    if args.follow and args.replay:
        raise UserError("--follow and --replay cannot be used together")
    if not args.follow:
        # Fail before the screen switches when the file is plainly unreadable.
        with open(path, "rb") as fh:
            check_head(path, fh.read(8192))
    from tui.app import TrajscopeApp
    from tui.bridge import Source

    app = TrajscopeApp(Source(path, follow=args.follow, replay=args.replay), theme=args.theme)
    app.run()
    if app.return_code:
        raise UserError(app.load_error or "the run could not be opened")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    loaded = load(args.path)
    out = Path(args.output)
    if out.exists() and out.resolve() == Path(args.path).resolve():
        raise UserError("the output would overwrite the input")
    write_events(out, loaded.events)
    stats = Tree.fold(loaded.events).stats()
    print(f"{args.path} ({loaded.format}) -> {out}: {stats['nodes']} nodes, "
          f"{stats['branch_points']} branch points, {stats['submissions']} submissions")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
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


def cmd_bench(args: argparse.Namespace) -> int:
    from tui.bench import run_bench

    return run_bench(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trajscope", description="Watch and steer tree search over coding-agent trajectories.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("open", help="view a run log or an imported trajectory or tree")
    p.add_argument("path")
    p.add_argument("--follow", action="store_true", help="show nodes as another process appends them")
    p.add_argument("--replay", type=float, metavar="SPEED", help="animate a finished log at SPEED× its pace")
    p.add_argument("--theme", choices=["trajscope-dark", "trajscope-light"])
    p.set_defaults(func=cmd_open)

    p = sub.add_parser("convert", help="import SWE-agent / mini-swe-agent / DARS files into a run log")
    p.add_argument("path")
    p.add_argument("-o", "--output", required=True, metavar="OUT.jsonl")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("stats", help="nodes, leaves, depth, branch points, submissions, tokens, cost")
    p.add_argument("path")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("bench", help="performance benchmarks")
    p.add_argument("suite", choices=["open"])
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--follow-rate", type=int, default=2000, help="node events a second in the follow test")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (UserError, FormatError) as exc:
        print(f"trajscope: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
