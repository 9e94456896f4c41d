"""``trajscope demo``: a live search on a bundled task, with no API key, Docker or network."""

from __future__ import annotations

import argparse

from trajscope.demo_data import TASKS as TASKS_DIR
from trajscope.tui.cli.common import (DEMO_TASK, add_out_option, add_policy_options, add_search_options, add_theme_option,
                            bundled_tasks)


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="a live search on a bundled task: no API key, no Docker, no network needed")
    p.add_argument("task", nargs="?", default=DEMO_TASK,
                   help=f"a bundled task ({', '.join(bundled_tasks())}) or a task directory (default {DEMO_TASK})")
    add_policy_options(p)
    add_search_options(p)
    p.add_argument("--pace", type=float, default=0.25,
                   help="seconds each demo-policy step takes, so the tree grows at a watchable speed (0: flat out)")
    add_out_option(p)
    p.add_argument("--headless", action="store_true", help="progress bars and a JSON result instead of the app")
    add_theme_option(p)
    # resume None: demo has no --resume, so its messages never offer one
    p.set_defaults(strategy="dars+prune", prune_b=2, workers=2, instance=None, resume=None)


def run(args: argparse.Namespace) -> int:
    from trajscope.tui.cli import search

    if args.task in bundled_tasks():
        args.task = str(TASKS_DIR / args.task)
    return search.run(args)
