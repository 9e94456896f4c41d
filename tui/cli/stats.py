"""``trajscope stats``: the counts of a run log or an importable trajectory, or of every run in a
folder or a multi-run file."""

from __future__ import annotations

import argparse
import json

from trajscope.tui.cli.common import add_instance_option, add_report_option, load_one, many_runs


def add_parser(sub) -> None:
    p = sub.add_parser("stats", help="nodes, leaves, depth, branch points, submissions, tokens, cost")
    p.add_argument("path", help="a run, a multi-run file (OpenHands output.jsonl) or a folder of runs")
    add_report_option(p)
    add_instance_option(p)
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    from trajscope.engine.tree import Tree

    found = many_runs(args.path, args.report, args.instance)
    if found:
        return _many(args, *found)
    loaded = load_one(args.path, args.report, args.instance)
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
    from rich.text import Text

    table = Table(title=Text(f"{args.path} ({loaded.format})"), show_header=False, box=None)
    for key, value in stats.items():
        table.add_row(key.replace("_", " "), f"{value:,}" if isinstance(value, int) else Text(str(value)))
    Console().print(table)
    return 0


def _many(args, refs, verdicts) -> int:
    from pathlib import Path

    from trajscope.engine.batch.folder import selected_verdicts
    from trajscope.engine.formats import FormatError
    from trajscope.engine.tree import Tree, resolved_words

    # a batch's folder says which patch each search selected; a run log alone does not
    selected = selected_verdicts(Path(args.path)) if Path(args.path).is_dir() else {}
    rows, failed = [], []
    for ref in refs:
        try:
            loaded = ref.load(verdicts)
        except FormatError as exc:
            failed.append({"run": ref.name, "error": str(exc)})
            continue
        # the row is named as the file is (the tree's own run name may be another's, or "run")
        stats = Tree.fold(loaded.events).stats()
        resolved = stats.pop("resolved")  # a count of submissions, named as the search's result names it
        row = {
            **stats,
            "run": ref.name,
            "format": loaded.format,
            "resolved_submissions": resolved,
            "any_resolved": resolved > 0,
        }
        if selected:
            row["selected_resolved"] = selected.get(ref.path.name)
        rows.append(row)
    skipped = getattr(refs, "skipped", [])
    summary = {
        "runs": len(refs),
        "read": len(rows),
        "failed_to_read": len(failed),
        "not_runs": len(skipped),
        "any_resolved": sum(r["any_resolved"] for r in rows),
        "selected_resolved": sum(r.get("selected_resolved") is True for r in rows) if selected else None,
        "submitted": sum(bool(r["submissions"]) for r in rows),
        "nodes": sum(r["nodes"] for r in rows),
        "tokens": sum(r["tokens"] for r in rows),
        "cost": round(sum(r["cost"] for r in rows), 6),
    }
    if args.json:
        print(
            json.dumps(
                {
                    "summary": summary,
                    "runs": rows,
                    "failed": failed,
                    "not_runs": [{"path": str(p), "why": why} for p, why in skipped],
                },
                indent=2,
            )
        )
        return 0
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(f"{args.path}: {len(refs)} runs"))
    columns = ["run", "format", "nodes", "branch_points", "submissions", "any_resolved", "tokens", "cost"]
    if selected:
        columns.insert(5, "selected_resolved")
    for column in columns:
        table.add_column(column.replace("_", " "))
    for r in rows:
        cells = [
            Text(r["run"]),
            Text(r["format"]),
            f"{r['nodes']:,}",
            str(r["branch_points"]),
            str(r["submissions"]),
            "yes" if r["any_resolved"] else "",
            f"{r['tokens']:,}",
            f"${r['cost']:.4f}",
        ]
        if selected:
            cells.insert(5, {True: "yes", False: "", None: "?"}[r["selected_resolved"]])
        table.add_row(*cells)
    console = Console()
    console.print(table)
    from trajscope.engine.formats.collection import skipped_lines

    for f in failed:
        console.print(f"[yellow]not read:[/] {escape(f['error'])}", highlight=False)
    for line in skipped_lines(skipped):
        console.print(f"[yellow]not a run:[/] {escape(line)}", highlight=False)
    # a run that could not be read is counted apart, never as a run that did not resolve
    said = resolved_words(summary["read"], summary["any_resolved"], summary["selected_resolved"])
    console.print(
        f"{said} · {summary['submitted']} submitted · "
        f"{summary['failed_to_read']} not read · {summary['nodes']:,} nodes · {summary['tokens']:,} tokens · "
        f"${summary['cost']:.4f}",
        highlight=False,
    )
    return 0
