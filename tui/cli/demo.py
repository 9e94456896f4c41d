"""``trajscope demo``: a live search on a bundled task, with no API key, Docker or network.
``trajscope serve demo`` serves this same demo (add_demo_options: one place for its settings)."""

from __future__ import annotations

import argparse

from trajscope.tui.cli.common import (
    DEMO_TASK,
    add_out_option,
    add_policy_options,
    add_search_options,
    add_theme_option,
    bundled_tasks,
)
from trajscope.tui.cli.specs import spec_help

DEMO_SETTINGS = dict(strategy="dars+prune", prune_b=2, workers=2)
"""What the demo changes of `trajscope search`'s defaults (the rest is the SearchSpec's)."""


def add_demo_options(p: argparse.ArgumentParser) -> None:
    """The demo's task, every search option, --pace and its defaults: the terminal's demo and the
    served one take the same options and run the same search."""
    p.add_argument(
        "task",
        nargs="?",
        default=DEMO_TASK,
        help=f"a bundled task ({', '.join(bundled_tasks())}) or a task directory (default {DEMO_TASK}; "
        "a path that exists wins over a name)",
    )
    add_policy_options(p)
    add_search_options(p)
    p.add_argument(
        "--pace",
        type=float,
        default=0.25,
        help=spec_help("pace", "so the tree grows at a watchable speed; 0: flat out"),
    )
    add_out_option(p)
    # resume None: demo has no --resume, so its messages never offer one
    p.set_defaults(**DEMO_SETTINGS, instance=None, resume=None)


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="a live search on a bundled task: no API key, no Docker, no network needed")
    add_demo_options(p)
    p.add_argument("--headless", action="store_true", help="progress bars and a JSON result instead of the app")
    add_theme_option(p)


def run(args: argparse.Namespace) -> int:
    from trajscope.tui.cli import search

    return search.run(args)  # a bundled task's name is resolved where the task is loaded
