"""``trajscope evaluate PREDICTIONS --dataset FILE``: grade SWE-bench predictions as the harness's
``run_evaluation`` does (a fresh sandbox per instance, its report files), with progress."""

from __future__ import annotations

import argparse
import sys
import time

from trajscope.tui.errors import UserError

EXIT_CODES = (
    "exit status: 0 every prediction was graded and resolved; 1 every prediction was graded and some "
    "are unresolved or have an empty patch; 3 some prediction could not be graded (not in the dataset, "
    "a patch over the limit, a sandbox error) or a report file could not be written; 2 nothing was "
    "graded (a mistake in the command, one sentence says which)"
)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate", help="grade SWE-bench predictions as the harness does; its report files", epilog=EXIT_CODES
    )
    p.add_argument("predictions", help="predictions: JSONL or JSON (instance_id, model_name_or_path, model_patch)")
    p.add_argument(
        "--dataset",
        required=True,
        nargs="+",
        metavar="DATASET",
        help="where the instances are, one or more: SWE-bench JSON/JSONL files, task directories, "
        "folders of them, SWE-bench task repositories, bundled task names, or 'bundled' (every "
        "bundled task; `trajscope tasks`). A prediction for an instance none of them holds is "
        "not graded",
    )
    p.add_argument("--instances", nargs="+", metavar="ID", help="only these instances")
    p.add_argument("--workers", type=int, default=1, help="instances graded at once, a sandbox each")
    p.add_argument(
        "--sandbox",
        choices=["docker", "local", "none"],
        default="docker",
        help="none: the tests run UNCONFINED on this machine, only when you choose it",
    )
    p.add_argument("--timeout", type=float, default=1800, help="seconds the tests of one instance may run")
    p.add_argument("--run-id", help="the run's name in the report files (default: a time stamp)")
    p.add_argument("--out", default="evaluation", help="the folder for the reports (default: ./evaluation)")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from trajscope.engine.evaluation import NOT_IN_DATASET, evaluate, read_predictions, unique_predictions
    from trajscope.engine.files import WriteError

    if args.workers < 1:
        raise UserError("--workers must be at least 1")
    predictions = read_predictions(args.predictions)
    if args.instances:
        wanted = set(args.instances)
        predictions = [p for p in predictions if p.instance_id in wanted]
        missing = wanted - {p.instance_id for p in predictions}
        if missing:
            raise UserError(f"{args.predictions} has no prediction for {', '.join(sorted(missing))}")
    if not predictions:
        raise UserError(f"{args.predictions} holds no prediction")
    predictions, twice = unique_predictions(predictions)
    if twice:
        print(
            f"trajscope: {len(twice)} instance(s) predicted more than once ({_some(twice)}): the last prediction "
            "of each is graded, once",
            file=sys.stderr,
        )
    for p in predictions:
        if p.refused:
            print(f"trajscope: {p.instance_id!r} is not graded: {p.refused} (counted as an error)", file=sys.stderr)
    run_id = args.run_id or time.strftime("trajscope-%Y%m%d-%H%M%S")
    console = Console(stderr=True)
    rows: list[tuple[str, dict]] = []
    try:
        with Progress(
            TextColumn("[bold]grading"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=console,
            transient=True,
        ) as progress:
            bar = progress.add_task("", total=len(predictions))

            def done(iid: str, report: dict) -> None:
                rows.append((iid, report))
                progress.update(bar, advance=1, description=f"{escape(iid)}: {report['outcome'].replace('_', ' ')}")

            summary, summary_path, unwritten = evaluate(
                predictions, args.dataset, args.out, run_id, args.sandbox, args.workers, args.timeout, on_done=done
            )
    except WriteError:
        if rows:  # graded, but not even the summary could be written: the grades on screen, then why
            Console().print(_table(args.predictions, run_id, rows))
        raise
    Console().print(_table(args.predictions, run_id, rows))
    absent = sorted(iid for iid, report in rows if (report.get("error") or "").startswith(NOT_IN_DATASET))
    if absent:
        print(
            f"trajscope: {len(absent)} prediction(s) not graded, for instances no --dataset holds: {_some(absent)}",
            file=sys.stderr,
        )
    for line in unwritten:
        print(f"trajscope: not written: {line}", file=sys.stderr)
    console.print(
        f"resolved {summary['resolved_instances']} of {summary['total_instances']} · "
        f"{summary['error_instances']} error(s) · {summary['empty_patch_instances']} empty · report "
        f"{escape(str(summary_path))} (`trajscope open RUNS --report {escape(str(summary_path))}` shows these "
        "verdicts on your runs)",
        highlight=False,
    )
    return exit_status(summary, unwritten)


def exit_status(summary: dict, unwritten: list[str]) -> int:
    """EXIT_CODES: what a script can branch on without reading the report."""
    if summary["error_instances"] or unwritten:
        return 3
    return 0 if summary["resolved_instances"] == summary["total_instances"] else 1


def _table(predictions: str, run_id: str, rows: list[tuple[str, dict]]):
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(f"{predictions} ({run_id})"))
    for column in ("instance", "outcome", "applied", "FAIL_TO_PASS", "PASS_TO_PASS", "note"):
        table.add_column(column)
    colour = {"resolved": "green", "unresolved": "red", "error": "yellow", "empty_patch": "dim"}
    for iid, report in sorted(rows):
        tests = report.get("tests_status") or {}
        table.add_row(
            escape(iid),
            f"[{colour[report['outcome']]}]{report['outcome'].replace('_', ' ')}[/]",
            "yes" if report["patch_successfully_applied"] else "no",
            _passed(tests, "FAIL_TO_PASS"),
            _passed(tests, "PASS_TO_PASS"),
            escape((report.get("error") or "")[:80]),
        )
    return table


def _passed(tests: dict, kind: str) -> str:
    """``passed/total`` of one kind of tests, or nothing where they did not run."""
    if kind not in tests:
        return ""
    passed = len(tests[kind]["success"])
    return f"{passed}/{passed + len(tests[kind]['failure'])}"


def _some(ids: list[str], shown: int = 5) -> str:
    names = ", ".join(repr(i) for i in ids[:shown])
    return names + (f" and {len(ids) - shown} more" if len(ids) > shown else "")
