"""``trajscope export RUN --format patch|predictions|sft|dpo|dagger`` (docs/architecture.md section 7)."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson

from trajscope.tui.cli.common import add_report_option, many_runs

FORMATS = ("patch", "predictions", "sft", "dpo", "dagger")


def run(args) -> int:
    from trajscope.engine.formats import FormatError, load
    from trajscope.engine.formats.export import ExportError, patch_of, prediction
    from trajscope.engine.formats.training import dagger, dpo, sft
    from trajscope.engine.search.select import select_recorded
    from trajscope.engine.tree import Tree
    from trajscope.tui.errors import UserError

    _check_not_input(args)
    found = many_runs(args.run, args.report)
    if found:
        return _many(args, *found)
    try:
        tree = Tree.fold(load(Path(args.run)).events)
    except FormatError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"{args.run} cannot be read: {exc.strerror or exc}") from None
    node = args.node.lstrip("#") if args.node else None
    if args.format in ("patch", "predictions"):
        if node is None:
            node, _ = select_recorded(tree)
            if node is None:
                raise UserError(f"{args.run} has no submitted patch to export; name a node with --node")
        try:
            if args.format == "patch":
                data = patch_of(tree, node).encode()
            else:
                data = orjson.dumps(prediction(tree, node, args.model)) + b"\n"
        except ExportError as exc:
            raise UserError(str(exc)) from None
        records = 1
    else:
        rows = {"sft": sft, "dpo": dpo, "dagger": dagger}[args.format](tree)
        data = b"".join(orjson.dumps(r) + b"\n" for r in rows)
        records = len(rows)
    if records == 0:
        print(
            f"trajscope: no {args.format} record in {args.run} ({_why_none(args.format)}); nothing written",
            file=sys.stderr,
        )
        return NOTHING
    _write(args, data, records)
    return 0


NOTHING = 1
"""The exit status of an export with no record to write: nothing is written (an empty -o file
would pass for an export that worked), and a script can tell."""


def _check_not_input(args) -> None:
    from trajscope.tui.errors import UserError

    if args.output and args.output != "-":
        out, source = Path(args.output), Path(args.run)
        if out.exists() and source.exists() and out.resolve() == source.resolve():
            raise UserError(f"{out} is the input; export never writes its input: choose another -o")


def _write(args, data: bytes, records: int) -> None:
    if args.output and args.output != "-":
        from trajscope.engine.files import replace_file

        replace_file(args.output, data)  # whole or not at all, never through a link
        print(f"{records} {args.format} record(s) written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)


def _many(args, refs, verdicts) -> int:
    """Records of every run of a folder or a multi-run file, one after another (predictions:
    the selected submission of each run that has one: by the agent's checks where the run
    recorded them, else by the PRM)."""
    from trajscope.engine.formats import FormatError
    from trajscope.engine.formats.export import ExportError, prediction
    from trajscope.engine.formats.training import dagger, dpo, sft
    from trajscope.engine.search.select import select_recorded
    from trajscope.engine.tree import Tree
    from trajscope.tui.errors import UserError

    if args.format == "patch" or args.node:
        raise UserError(
            f"{args.run} holds {len(refs)} runs: a patch (or --node) names one run; "
            "export predictions for all of them, or name one run's file"
        )
    chunks, records, without, unread = [], 0, 0, 0
    for ref in refs:
        try:
            tree = Tree.fold(ref.load(verdicts).events)
        except FormatError as exc:
            unread += 1
            print(f"trajscope: not read: {exc}", file=sys.stderr)
            continue
        if args.format == "predictions":
            node, _ = select_recorded(tree)
            if node is None:
                without += 1
                continue
            try:
                rows = [prediction(tree, node, args.model)]
            except ExportError:
                without += 1
                continue
        else:
            rows = {"sft": sft, "dpo": dpo, "dagger": dagger}[args.format](tree)
            without += not rows
        chunks.extend(orjson.dumps(r) + b"\n" for r in rows)
        records += len(rows)
    if records:
        _write(args, b"".join(chunks), records)
    print(
        f"trajscope: {len(refs)} runs: {records} {args.format} record(s); {without} run(s) gave none"
        + (
            f" ({_why_none(args.format)})"
            if args.format != "predictions" and without
            else " (no submitted patch)"
            if without
            else ""
        )
        + (f"; {unread} not read" if unread else "")
        + ("; nothing written" if not records else ""),
        file=sys.stderr,
    )
    return 0 if records else NOTHING


def _why_none(fmt: str) -> str:
    return {
        "sft": "no submission was verified as resolved",
        "dpo": "no sibling pair with a human promote/prune or resolved/failed outcomes",
        "dagger": "no node carries a teacher action (a mixture policy's teacher or a person's edit)",
    }[fmt]


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="patch | predictions | sft | dpo | dagger from a run")
    p.add_argument("run", help="a run log, any importable trajectory, a multi-run file or a folder of runs")
    p.add_argument("--format", "-f", choices=FORMATS, required=True)
    p.add_argument(
        "--node",
        help="patch / predictions: the node (default: the submission selected by the agent's checks the run "
        "recorded, else by the PRM)",
    )
    p.add_argument("--model", help="predictions: model_name_or_path (default: the run's policy)")
    p.add_argument("-o", "--output", metavar="OUT", help="the file to write (default: standard output)")
    add_report_option(p)
