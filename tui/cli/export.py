"""``trajscope export RUN --format patch|predictions|sft|dpo|dagger`` (docs/architecture.md section 7)."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson

FORMATS = ("patch", "predictions", "sft", "dpo", "dagger")


def run(args) -> int:
    from engine.formats import FormatError, load
    from engine.formats.export import ExportError, patch_of, prediction
    from engine.formats.training import dagger, dpo, sft
    from engine.search.select import select_prm
    from engine.tree import Tree
    from tui.errors import UserError

    try:
        tree = Tree.fold(load(Path(args.run)).events)
    except FormatError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"{args.run} cannot be read: {exc.strerror or exc}") from None
    node = args.node.lstrip("#") if args.node else None
    if args.format in ("patch", "predictions"):
        if node is None:
            node, _ = select_prm(tree)
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
    if args.output and args.output != "-":
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_bytes(data)
        print(f"{records} {args.format} record(s) written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
    if records == 0:
        print(f"trajscope: no {args.format} record in {args.run} "
              f"({_why_none(args.format)})", file=sys.stderr)
    return 0


def _why_none(fmt: str) -> str:
    return {"sft": "no submission was verified as resolved",
            "dpo": "no sibling pair with a human promote/prune or resolved/failed outcomes",
            "dagger": "no node carries a teacher action (a mixture policy's teacher or a person's edit)"}[fmt]


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="patch | predictions | sft | dpo | dagger from a run")
    p.add_argument("run", help="a run log, or any importable trajectory")
    p.add_argument("--format", "-f", choices=FORMATS, required=True)
    p.add_argument("--node", help="patch / predictions: the node (default: the PRM's selected submission)")
    p.add_argument("--model", help="predictions: model_name_or_path (default: the run's policy)")
    p.add_argument("-o", "--output", metavar="OUT", help="the file to write (default: standard output)")
