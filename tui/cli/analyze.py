"""``trajscope analyze PATH...``: rubric flags, their rates in resolved and failed
trajectories, and clusters of the failures; rich tables, ``--json``, or an HTML report."""

from __future__ import annotations

import json
import os
import sys


def pct(cell: dict) -> str:
    from trajscope.engine.analysis.report import pct as percent

    return percent(cell)


def print_tables(report: dict) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console()
    _flag_table(console, report, "rubric flags (detectors)")
    if "judge" in report:
        judged = report["judge"]
        _flag_table(
            console, judged, f"rubric flags (judge {escape(str(judged['model']))}, {judged['unreadable']} unreadable)"
        )
    _cluster_table(console, report)
    _left_out(console, report)


def _left_out(console, report: dict) -> None:
    """The runs that could not be read and the files that are not runs: every file found is a
    trajectory counted above or a line here."""
    from pathlib import Path

    from rich.markup import escape

    from trajscope.engine.formats.collection import skipped_lines

    for error in report.get("unread", []):
        console.print(f"[yellow]not read:[/] {escape(str(error))}", highlight=False)
    skipped = [(Path(s["path"]), s["why"]) for s in report.get("not_runs", [])]
    for line in skipped_lines(skipped):
        console.print(f"[yellow]not a run:[/] {escape(line)}", highlight=False)


def _flag_table(console, report: dict, what: str) -> None:
    from rich.table import Table

    counts = report["trajectories"]
    table = Table(
        title=f"{what} over {sum(counts.values())} trajectories: "
        f"{counts['resolved']} resolved, {counts['failed']} failed, {counts['unknown']} unverified"
    )
    for column in ("flag", "in all", "in resolved", "in failed", "in unverified", "failed / resolved"):
        table.add_column(column, no_wrap=column == "flag")  # a flag's name is what a person searches for
    for flag, row in report["flags"].items():
        ratio = row["failed_over_resolved"]
        table.add_row(
            flag,
            pct(row["all"]),
            pct(row["resolved"]),
            pct(row["failed"]),
            pct(row["unknown"]),
            "—" if ratio is None else f"{ratio:g}×",
        )
    console.print(table)


def _cluster_table(console, report: dict) -> None:
    from rich.table import Table
    from rich.text import Text

    if report["clusters"]:
        groups = Table(title="failure clusters")
        for column in ("size", "label", "members"):
            groups.add_column(column)
        for c in report["clusters"]:
            members = ", ".join(c["members"][:6]) + (f" … +{len(c['members']) - 6}" if len(c["members"]) > 6 else "")
            groups.add_row(str(c["size"]), Text(c["label"]), Text(members))
        console.print(groups)


def run(args) -> int:
    from trajscope.engine.analysis.report import analyze, html_report

    judge = None
    if args.judge:
        from trajscope.engine.policy.llm import LLMPolicy

        judge = LLMPolicy(args.judge, api_base=args.api_base, api_key=args.api_key)
        judge.check()
    report = analyze(args.paths, args.clusters, args.seed, judge)
    if args.html:
        from trajscope.engine.files import replace_file
        from trajscope.tui.errors import UserError

        if os.path.exists(args.html) and any(os.path.exists(p) and os.path.samefile(p, args.html) for p in args.paths):
            raise UserError(f"{args.html} is one of the inputs; analyze never writes its input: choose another --html")
        replace_file(args.html, html_report(report).encode("utf-8", "replace"))  # never through a link
        print(f"report written to {args.html}", file=sys.stderr)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_tables(report)
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("analyze", help="rubric flags and failure clusters over runs and imported trajectories")
    p.add_argument("paths", nargs="+", help="run logs, importable files, or folders of them")
    p.add_argument("--json", action="store_true", help="the whole report as JSON")
    p.add_argument("--html", metavar="OUT.html", help="also write an HTML report with plots")
    p.add_argument("--clusters", type=int, metavar="K", help="failure clusters (default: about sqrt(failures / 2))")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--judge", metavar="MODEL", help="also tag each trajectory with an LLM judge (a litellm model)")
    p.add_argument("--api-base", metavar="URL", help="the judge's model server")
    p.add_argument("--api-key", metavar="KEY", help="the judge's API key")
