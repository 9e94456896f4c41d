"""``trajscope open``: view a run log or any importable trajectory, live or replayed."""

from __future__ import annotations

import argparse
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


def _show(source, args) -> int:
    from trajscope.tui.app import TrajscopeApp

    app = TrajscopeApp(source, theme=args.theme)
    app.run()
    if app.return_code:
        raise UserError(app.load_error or "the run could not be opened")
    return 0
