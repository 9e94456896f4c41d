"""``trajscope verify``: a patch and the hidden tests in a fresh sandbox; the verdict."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from trajscope.tui.cli.common import add_task_arguments, check_readable
from trajscope.tui.errors import UserError


def add_parser(sub) -> None:
    p = sub.add_parser("verify", help="apply a patch and the hidden tests in a fresh sandbox; resolved or not")
    add_task_arguments(p)
    p.add_argument("--patch", metavar="FILE", help="the patch to verify ('-' reads standard input); none by default")
    p.add_argument("--gold", action="store_true", help="verify the task's reference fix")
    p.add_argument(
        "--sandbox",
        choices=["local", "docker", "none"],
        default="local",
        help="none: the tests run UNCONFINED on this machine, only when you choose it",
    )
    p.add_argument("--timeout", type=float, default=600, help="seconds the tests may run")
    p.add_argument("--json", action="store_true")


def _read_patch(args: argparse.Namespace, task) -> str:
    if args.gold:
        if args.patch:
            raise UserError("--gold and --patch cannot be used together")
        if task.gold_patch is None:
            raise UserError(f"{task.instance_id} has no reference fix (gold.patch)")
        return task.gold_patch
    if not args.patch:
        return ""
    if args.patch == "-":
        return sys.stdin.read()
    path = Path(args.patch)
    check_readable(path)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path} is not a text patch") from None


def run(args: argparse.Namespace) -> int:
    from trajscope.engine.tasks import load_task
    from trajscope.engine.verification import verify

    task = load_task(args.task, args.instance)
    patch = _read_patch(args, task)
    result = verify(task, patch, sandbox=args.sandbox, timeout=args.timeout)
    code = {"resolved": 0, "unresolved": 1, "error": 3}[result.verdict]
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
        return code
    from rich.console import Console

    print_result(Console(), task, result, args.sandbox)
    return code


def print_result(console, task, result, sandbox: str) -> None:
    """The verdict and each listed test's result; test ids, the instance and the error are text
    (a parametrized id such as ``test_url[/foo]`` is no markup: it raised MarkupError, and
    ``test_fmt[int16]`` was printed as ``test_fmt``)."""
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    graded = ", graded by the SWE-bench harness" if result.grader == "swebench harness" else ""
    table = Table(title=Text(f"{task.instance_id} ({sandbox} sandbox, {result.duration_s:.1f} s{graded})"))
    table.add_column("test")
    table.add_column("kind")
    table.add_column("result")
    for kind, tests in (("FAIL_TO_PASS", result.fail_to_pass), ("PASS_TO_PASS", result.pass_to_pass)):
        for test, ok in tests.items():
            table.add_row(Text(test), kind, "[green]pass[/]" if ok else "[red]fail[/]")
    for test in result.skipped:
        table.add_row(
            Text(test),
            "FAIL_TO_PASS" if test in task.FAIL_TO_PASS else "PASS_TO_PASS",
            "[dim]skipped (counts on neither side)[/]",
        )
    if result.fail_to_pass or result.pass_to_pass or result.skipped:
        console.print(table)
    if result.verdict == "error":
        console.print(f"[bold yellow]VERIFICATION ERROR[/]: {escape(str(result.error))}")
        return
    if result.error:
        console.print(f"[red]{escape(str(result.error))}[/]")
    console.print("[bold green]RESOLVED[/]" if result.resolved else "[bold red]NOT RESOLVED[/]")
