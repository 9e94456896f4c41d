"""``trajscope open``: view a run log or any importable trajectory, live or replayed."""

from __future__ import annotations

import argparse
from pathlib import Path

from tui.cli.common import add_theme_option, check_readable
from tui.errors import UserError


def add_parser(sub) -> None:
    p = sub.add_parser("open", help="view a run log or an imported trajectory or tree")
    p.add_argument("path")
    p.add_argument("--follow", action="store_true", help="show nodes as another process appends them")
    p.add_argument("--replay", type=float, metavar="SPEED", help="animate a finished log at SPEED× its pace")
    add_theme_option(p)


def run(args: argparse.Namespace) -> int:
    path = Path(args.path)
    check_readable(path)
    if args.replay is not None and args.replay <= 0:
        raise UserError("--replay SPEED must be a positive number")
    if args.follow and args.replay:
        raise UserError("--follow and --replay cannot be used together")
    from engine.formats import check_head

    if not args.follow:
        # Fail before the screen switches when the file is plainly unreadable.
        with open(path, "rb") as fh:
            check_head(path, fh.read(8192))
    from tui.app import TrajscopeApp
    from tui.bridge import Source

    app = TrajscopeApp(Source(path, follow=args.follow, replay=args.replay), theme=args.theme)
    app.run()
    if app.return_code:
        raise UserError(app.load_error or "the run could not be opened")
    return 0
