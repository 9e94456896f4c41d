"""``--from RUN --at STEP``: the options that start a search at a step of an imported run
(``trajscope search`` headless or in the app), and the one place they become an
``ImportedPrefix`` (engine/branching.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from trajscope.tui.errors import UserError


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--from",
        dest="from_run",
        metavar="RUN",
        help="start at a step of this run (any format `trajscope open` reads, a run log included): its "
        "steps up to --at are replayed in the sandbox and kept as the imported trunk; the budget "
        "(--max-nodes, --max-tokens, --max-cost) counts what this search adds, not the recorded trunk",
    )
    p.add_argument(
        "--at",
        metavar="STEP",
        help="with --from: the step to branch below, a step id of the file or a number along its first path",
    )
    p.add_argument(
        "--go-on",
        action="store_true",
        help="with --from: go on when the replayed output differs from the recorded one (the difference "
        "is recorded in the new log); the search still branches only below --at",
    )
    p.add_argument(
        "--any-task",
        action="store_true",
        help="with --from (or open --task): branch even when the run names another instance than the task's",
    )
    p.add_argument(
        "--from-patch",
        action="store_true",
        help="with --from: rebuild the state from the patch the run records at --at instead of replaying",
    )


def check(args) -> None:
    """UserError for options that cannot go together, before anything is opened."""
    given = [
        f"--{name.replace('_', '-')}" for name in ("at", "go_on", "from_patch", "any_task") if getattr(args, name, None)
    ]
    if not getattr(args, "from_run", None):
        if given:
            raise UserError(f"{given[0]} needs --from RUN")
        return
    if not args.at:
        raise UserError("--from needs --at STEP: the step of the run to branch below")
    if getattr(args, "resume", False):
        raise UserError("--from starts a new search; --resume goes on with one (its log holds the trunk already)")
    if not Path(args.from_run).exists():
        raise UserError(f"{args.from_run} does not exist")


def prepare(args, session):
    """The imported prefix ``args`` ask for, rebuilt in the sandbox ``session`` will use; a
    divergence or a step that cannot be replayed ends in one sentence naming the option
    that goes on."""
    from trajscope.engine.branching import prepare as prepare_prefix
    from trajscope.engine.replay import ReplayDiverged, ReplayError

    try:
        return prepare_prefix(
            args.from_run,
            args.at,
            session.task,
            session.sandbox_kind,
            go_on=args.go_on,
            from_patch=args.from_patch,
            any_task=args.any_task,
            timeout=session.config.timeout,
            **session.sandbox_options,
        )
    except ReplayDiverged as exc:
        raise UserError(f"{exc.divergence.sentence}; --go-on branches from there despite it") from None
    except ReplayError as exc:
        words = str(exc).replace("can rebuild the state instead", "can rebuild the state instead (--from-patch)")
        raise UserError(words) from None
