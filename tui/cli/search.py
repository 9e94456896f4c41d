"""``trajscope search``: a tree search on a task, headless with progress bars or followed in the viewer."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

from trajscope.tui.cli import branch_from
from trajscope.tui.cli.common import (
    add_out_option,
    add_policy_options,
    add_search_options,
    add_task_arguments,
    add_theme_option,
    check_out_log,
    default_out,
    sandbox_words,
)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "search", help="tree search on a task (DARS, PRM pruning, sampling); --headless for a JSON result"
    )
    add_task_arguments(p)
    add_policy_options(p)
    add_search_options(p)
    add_out_option(p)
    p.add_argument("--resume", action="store_true", help="go on with the search in --out")
    p.add_argument("--headless", action="store_true", help="progress bars and a JSON result instead of the viewer")
    branch_from.add_options(p)
    add_theme_option(p)


def run(args) -> int:
    from trajscope.engine.launch import build_session, result_json, selector
    from trajscope.engine.tasks import load_task
    from trajscope.tui.cli.specs import spec_from_args

    branch_from.check(args)
    task = load_task(args.task, args.instance)
    out = Path(args.out) if args.out else default_out(task.instance_id)
    check_out_log(out, args.resume)
    made = not args.out or not out.exists()  # a file this command creates, removed if nothing is written to it
    try:
        # resumed: the settings the log recorded, but for what is given here
        spec = spec_from_args(args, resume=out if args.resume and out.exists() else None)
        session = build_session(spec, task, out)
        if getattr(args, "from_run", None):  # the state at the step, rebuilt before the log starts
            session.prefix = branch_from.prepare(args, session)
            print(f"trajscope: {session.prefix.describe()}", file=sys.stderr)
        choose = selector(spec)
    except BaseException:
        if made and out.exists() and out.stat().st_size == 0:  # refused before the log started
            out.unlink()
        raise
    started = time.perf_counter()
    session.start()
    try:
        if args.headless:
            _progress(session)
        else:
            from trajscope.tui.app import TrajscopeApp
            from trajscope.tui.bridge import LiveSource

            TrajscopeApp(LiveSource(session), theme=getattr(args, "theme", None)).run()
            print(f"trajscope: closing the search (workers stop, sandboxes are removed); log {out}", file=sys.stderr)
    except KeyboardInterrupt:  # --headless (the app takes Ctrl-C as a key and quits as q does)
        session.close("interrupted")
        print(interrupted_lines(args, out), file=sys.stderr)
        raise
    finally:
        session.close("stopped by the user")
    result = result_json(session, time.perf_counter() - started, choose, spec.selector_name())
    if args.headless:
        print(json.dumps(result, indent=2))
    else:  # a person closed the app: a few lines for them, the JSON is --headless's
        print(summary_lines(result), file=sys.stderr)
    return 0 if result["resolved"] else 1


def interrupted_lines(args, out: Path) -> str:
    """What a person reads after Ctrl-C: where the log is, and the command that goes on with it
    (the log records the search's settings, so a search started by `demo` resumes as it was)."""
    import shlex

    again = ["trajscope", "search", str(args.task)]
    if getattr(args, "instance", None):
        again += ["--instance", args.instance]
    again += ["--out", str(out), "--resume"]
    return (
        f"trajscope: interrupted; the search stopped and its sandboxes were removed; log {out}\n"
        f"trajscope: go on with it: {shlex.join(again)} (add --headless for no app)"
    )


def summary_lines(result: dict) -> str:
    """What a person reads after quitting the live app: the outcome, the log, how to go on."""
    verdict = {"resolved": "resolved", "unresolved": "not resolved", "error": "verification error"}
    selected = result.get("selected")
    if selected:
        outcome = f"selected #{selected}: {verdict.get(result.get('verdict') or '', 'not verified')}"
    else:
        outcome = "no submission to select"
    log = result["log"]
    unconfined = f"trajscope: {sandbox_words('none')}\n" if result.get("sandbox") == "none" else ""
    from trajscope.engine.launch import oracle_words

    return (
        unconfined + f"trajscope: {result['instance_id']}: {outcome}; {result['submissions']} submission(s), "
        f"{result['resolved_submissions']} resolved, {result['nodes']} nodes, {result['wall_s']:.0f} s "
        f"({result['finished'] or 'stopped'}){oracle_words(bool(result.get('oracle')))}\n"
        f"trajscope: log {log}; reopen it with `trajscope open {log}`, export the patch with "
        f"`trajscope export {log} --format patch`"
    )


def _progress(session) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from trajscope.engine.launch import oracle_words

    console = Console(stderr=True)
    console.print(
        f"[bold]{escape(session.task.instance_id)}[/]: {session.config.strategy} with {escape(session.policy.name)}, "
        f"{sandbox_words(session.sandbox_kind)}, {session.workers} worker(s), log {escape(str(session.recorder.log.path))}"
        f"{oracle_words(session.config.oracle)}"
    )
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        limit = session.budget.nodes or 0
        bar = progress.add_task("nodes", total=limit or None, info="")
        done = threading.Event()

        def watch():
            session.wait()
            done.set()

        threading.Thread(target=watch, daemon=True).start()

        def update() -> None:
            stats = session.tree.stats()
            best = session.tree.best_leaf()
            score = session.tree.nodes[best].score if best else None
            info = (
                f"submissions {stats['submissions']} · best score {score:.2f} · tokens {stats['tokens']:,}"
                f" · ${stats['cost']:.4f}"
                if score is not None
                else f"submissions {stats['submissions']}"
            )
            progress.update(bar, completed=min(stats["nodes"], limit or stats["nodes"]), info=info)

        while not done.wait(0.25):
            update()
        update()  # the last line counts what the search ended with, not what it had 0.25 s before
    console.print(f"finished: {escape(str(session.finished))}{oracle_words(session.config.oracle)}")
