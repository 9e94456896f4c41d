"""``trajscope convert``: import another tool's trajectory into a run log."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trajscope.tui.cli.common import add_instance_option, add_report_option, load_one, many_runs
from trajscope.tui.errors import UserError


def add_parser(sub) -> None:
    from trajscope.engine.formats import IMPORTERS

    formats = f"import other tools' trajectories into run logs ({IMPORTERS.names()})"
    p = sub.add_parser("convert", help=formats, description=f"{formats}; the format is read from the content")
    p.add_argument("path", help="a trajectory file, a multi-run file (OpenHands output.jsonl) or a folder of runs")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="the run log to write (OUT.jsonl), or for many runs a folder for one run log each",
    )
    add_report_option(p)
    add_instance_option(p)


def run(args: argparse.Namespace) -> int:
    from trajscope.engine.events import write_events
    from trajscope.engine.tree import Tree

    found = many_runs(args.path, args.report, args.instance)
    if found:
        return _many(args, *found)
    loaded = load_one(args.path, args.report, args.instance)
    out = Path(args.output)
    if out.exists() and out.resolve() == Path(args.path).resolve():
        raise UserError("the output would overwrite the input")
    write_events(out, loaded.events)
    stats = Tree.fold(loaded.events).stats()
    print(
        f"{args.path} ({loaded.format}) -> {out}: {stats['nodes']} nodes, "
        f"{stats['branch_points']} branch points, {stats['submissions']} submissions"
    )
    return 0


def _many(args, refs, verdicts) -> int:
    """One run log per run, named after the run, in the folder ``-o``."""
    import re

    from trajscope.engine.events import write_events
    from trajscope.engine.formats import FormatError

    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file; for many runs -o names a folder")
    out.mkdir(parents=True, exist_ok=True)
    from trajscope.engine.formats.collection import skipped_lines

    for line in skipped_lines(getattr(refs, "skipped", [])):
        print(f"trajscope: not a run: {line}", file=sys.stderr)
    used: set[str] = {p.name for p in out.iterdir()}
    written, failed = 0, 0
    for ref in refs:
        try:
            loaded = ref.load(verdicts)
        except FormatError as exc:
            failed += 1
            print(f"trajscope: not converted: {exc}", file=sys.stderr)
            continue
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", ref.name).strip("._") or "run"
        name, n = f"{stem}.jsonl", 1
        while name in used:
            n += 1
            name = f"{stem}-{n}.jsonl"
        used.add(name)
        write_events(out / name, loaded.events)
        written += 1
    print(f"{args.path}: {written} run log(s) written to {out}" + (f", {failed} run(s) not read" if failed else ""))
    return 0 if written else 1
