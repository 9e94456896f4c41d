"""``trajscope stats``: the counts of a run log or an importable trajectory, or of every run in a
folder or a multi-run file."""

from __future__ import annotations

import argparse
import json

from trajscope.tui.cli.common import add_report_option, many_runs


def add_parser(sub) -> None:
    p = sub.add_parser("stats", help="nodes, leaves, depth, branch points, submissions, tokens, cost")
    p.add_argument("path", help="a run, a multi-run file (OpenHands output.jsonl) or a folder of runs")
    add_report_option(p)
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    from trajscope.engine.formats import load
    from trajscope.engine.tree import Tree

    found = many_runs(args.path, args.report)
    if found:
        return _many(args, *found)
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


def _many(args, refs, verdicts) -> int:
    from trajscope.engine.formats import FormatError
    from trajscope.engine.tree import Tree

    rows, failed = [], []
    for ref in refs:
        try:
            loaded = ref.load(verdicts)
        except FormatError as exc:
            failed.append({"run": ref.name, "error": str(exc)})
            continue
        rows.append({"run": ref.name, "format": loaded.format, **Tree.fold(loaded.events).stats()})
    summary = {"runs": len(refs), "read": len(rows), "failed_to_read": len(failed),
               "resolved": sum(bool(r["resolved"]) for r in rows),
               "submitted": sum(bool(r["submissions"]) for r in rows),
               "nodes": sum(r["nodes"] for r in rows), "tokens": sum(r["tokens"] for r in rows),
               "cost": round(sum(r["cost"] for r in rows), 6)}
    if args.json:
        print(json.dumps({"summary": summary, "runs": rows, "failed": failed}, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{args.path}: {len(refs)} runs")
    for column in ("run", "format", "nodes", "branch_points", "submissions", "resolved", "tokens", "cost"):
        table.add_column(column.replace("_", " "))
    for r in rows:
        table.add_row(r["run"], r["format"], f"{r['nodes']:,}", str(r["branch_points"]), str(r["submissions"]),
                      "yes" if r["resolved"] else "", f"{r['tokens']:,}", f"${r['cost']:.4f}")
    console = Console()
    console.print(table)
    for f in failed:
        console.print(f"[yellow]not read:[/] {f['error']}", highlight=False)
    console.print(f"resolved {summary['resolved']} of {summary['runs']} · {summary['submitted']} submitted · "
                  f"{summary['failed_to_read']} not read · {summary['nodes']:,} nodes · {summary['tokens']:,} tokens · "
                  f"${summary['cost']:.4f}", highlight=False)
    return 0
