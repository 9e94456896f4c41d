"""``trajscope open``: view a run log or any importable trajectory, live or replayed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trajscope.tui.cli.common import add_instance_option, add_report_option, add_theme_option, check_readable, many_runs
from trajscope.tui.errors import UserError


def add_parser(sub) -> None:
    p = sub.add_parser("open", help="view a run log or an imported trajectory or tree")
    p.add_argument(
        "path",
        help="a run log, a trajectory file, a multi-run file (OpenHands output.jsonl) "
        "or a folder of runs (the runs screen lists them)",
    )
    add_report_option(p)
    add_instance_option(p)
    p.add_argument("--follow", action="store_true", help="show nodes as another process appends them")
    p.add_argument("--replay", type=float, metavar="SPEED", help="animate a finished log at SPEED× its pace")
    p.add_argument(
        "--task",
        metavar="TASK",
        help="the run's task (a task directory, a bundled task, a SWE-bench JSON/JSONL file or task repository; "
        "--instance, or the instance the run names): its steps can then be re-sampled, edited, submitted "
        "and searched from, live, after replaying them in a sandbox",
    )
    branch_options(p)
    add_theme_option(p)


def runs_source(path: Path, report: str | None, instance: str | None = None):
    """A RunsSource when ``path`` holds many runs (a folder, a multi-run JSONL), else None."""
    from trajscope.tui.bridge import RunsSource

    found = many_runs(path, report, instance)
    return RunsSource(path, *found) if found else None


def run(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if path.is_dir() and not args.follow and not args.replay:
        source = runs_source(path, args.report, args.instance)
        return _show(source, args)
    check_readable(path)
    if args.task:
        if args.follow or args.replay:
            raise UserError("--task branches from a finished run; it cannot be used with --follow or --replay")
        return _show_branchable(path, args)
    if args.replay is not None and args.replay <= 0:
        raise UserError("--replay SPEED must be a positive number")
    if args.follow and args.replay:
        raise UserError("--follow and --replay cannot be used together")
    from trajscope.engine.formats import check_head

    if not args.follow:
        # Fail before the screen switches when the file is plainly unreadable.
        with open(path, "rb") as fh:
            check_head(path, fh.read(8192))
    from trajscope.tui.bridge import Source

    many = None if (args.follow or args.replay) else runs_source(path, args.report, args.instance)
    if many is None and args.instance:
        raise UserError(
            "--instance names the task of a folder's or a multi-run file's runs; for one file, "
            "`trajscope convert FILE -o RUN.jsonl --instance ID` writes the run with it"
        )
    return _show(many or Source(path, follow=args.follow, replay=args.replay), args)


def branch_options(p: argparse.ArgumentParser) -> None:
    """The options of the searches a person starts from the run's steps (with --task)."""
    from trajscope.tui.cli.common import add_out_option, add_policy_options, add_search_options

    group = p.add_argument_group("branching (with --task)")
    add_policy_options(group)
    add_search_options(group)
    add_out_option(group)
    group.add_argument(
        "--any-task",
        action="store_true",
        help="branch even when the run names another instance than the task's",
    )


def branch_task(path: Path, spec: str, instance: str | None, any_task: bool = False):
    """The task of the run at ``path``: ``spec`` with ``instance``, or, where ``spec`` holds many
    instances and none is named, the one the run names. OtherTask when the run names another
    instance than the task's, unless ``any_task``."""
    from trajscope.engine.branching import check_task
    from trajscope.engine.formats import load
    from trajscope.engine.tasks import TaskError, load_task

    loaded = load(path)  # refused here, in one sentence, before the screen switches
    named = next((e.get("task") or {} for e in loaded.events if e.get("type") == "run_started"), {})
    try:
        task = load_task(spec, instance)
    except TaskError as exc:
        own = str(named.get("instance_id") or "")
        if instance or not own or "name one with --instance" not in str(exc):
            raise
        task = load_task(spec, own)  # the instance the run names, found in the dataset
    if not any_task:
        check_task(loaded.events, task, path)
    return task


def _show_branchable(path: Path, args) -> int:
    from trajscope.tui.branch_launcher import BranchableSource, BranchLauncher
    from trajscope.tui.cli.common import check_out_log, default_out
    from trajscope.tui.cli.specs import spec_from_args

    task = branch_task(path, args.task, args.instance, args.any_task)
    made = not args.out or not Path(args.out).exists()  # a file this command creates
    out = Path(args.out) if args.out else default_out(task.instance_id)
    check_out_log(out)
    launcher = BranchLauncher(path, task, spec_from_args(args), out, made=made)
    try:
        code = _show(BranchableSource(path, launcher), args)
    finally:
        launcher.close()
    if launcher.session is None and made and out.exists() and out.stat().st_size == 0:
        out.unlink()  # no branch was started: the empty log this command made goes
    elif launcher.session is not None:
        print(f"trajscope: the branches are in {out}; reopen it with `trajscope open {out}`", file=sys.stderr)
    return code


def _show(source, args) -> int:
    from trajscope.tui.app import TrajscopeApp

    app = TrajscopeApp(source, theme=args.theme)
    app.run()
    if app.return_code:
        raise UserError(app.load_error or "the run could not be opened")
    return 0
