"""``trajscope batch``: one search per task, in worker processes here or as Ray actors on a
cluster, watched and steered from the fleet screen (or ``--headless``: a progress table, then a
JSON summary and a SWE-bench predictions file)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from trajscope.tui.cli.common import add_policy_options, add_search_options, add_theme_option
from trajscope.tui.cli.specs import spec_help


def add_parser(sub) -> None:
    p = sub.add_parser("batch", help="a search per task or instance, locally or on a Ray cluster, in one fleet screen")
    p.add_argument(
        "tasks",
        nargs="+",
        help="task directories, folders of them, SWE-bench JSON/JSONL files, task "
        "repositories, or bundled task names ('bundled': every one; `trajscope tasks` lists them)",
    )
    p.add_argument("--instances", nargs="+", metavar="ID", help="only these instances of the SWE-bench files")
    p.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="local: worker processes here; ray: Ray actors (trajscope[ray]) on the nodes with --resource",
    )
    p.add_argument("--address", metavar="ADDR", help="the Ray cluster (default: a new one on this machine)")
    p.add_argument("--parallel", type=int, default=2, help="searches at once (ray: its local cluster's slots)")
    p.add_argument(
        "--resource",
        default="sandbox",
        help="ray: the custom resource of the nodes that have a Docker engine and the images",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="where the run logs, summary and predictions go")
    p.add_argument(
        "--resume",
        action="store_true",
        help="go on with the batch in --out from its logs (each with the settings its log recorded)",
    )
    p.add_argument("--headless", action="store_true", help="a progress table and a JSON summary, no screen")
    p.add_argument("--pace", type=float, default=0.0, help=spec_help("pace"))
    add_policy_options(p)
    add_search_options(p)
    add_theme_option(p)


def task_specs(paths: list[str], instances: list[str] | None, search: dict) -> list[dict]:
    """One spec per search: every task directory, and every (or every named) instance of the
    SWE-bench files and task repositories given; ``search`` is the SearchSpec's JSON they share."""
    from trajscope.engine.tasks import is_repo_task, load_swebench, load_tasks, task_path
    from trajscope.tui.errors import UserError

    wanted = set(instances or [])
    specs, seen = [], set()
    for raw in paths:
        path = task_path(raw).resolve()  # a path, else a bundled task's name
        if path.is_dir() and (path / "tasks").is_dir() and not (path / "task.json").is_file():
            ids = sorted(d.name for d in (path / "tasks").iterdir() if is_repo_task(d))
            found = [(str(path), i) for i in ids if not wanted or i in wanted]
        elif path.is_dir():  # a task directory, one task of a task repository, or a folder of them
            for task in load_tasks(path):
                if task.instance_id not in seen:
                    seen.add(task.instance_id)
                    specs.append({"name": task.instance_id, "task": str(task.path), "instance": None, "search": search})
            continue
        else:
            found = [(str(path), t.instance_id) for t in load_swebench(path) if not wanted or t.instance_id in wanted]
        for task, instance in found:
            if instance in seen:
                continue
            seen.add(instance)
            specs.append({"name": instance, "task": task, "instance": instance, "search": search})
    missing = wanted - {s["instance"] for s in specs}
    if missing:
        raise UserError(f"not in the tasks given: {' '.join(sorted(missing))}")
    if not specs:
        raise UserError("no task to run")
    return specs


def resumed_specs(args, specs: list[dict], logs: list[Path]) -> list[dict]:
    """``--resume``: each search goes on with the settings its own log recorded (its last resume's,
    else its run's), the options given here over them, as ``search --resume`` does; a search
    whose log is empty or absent starts with the options given. What changed is said once."""
    from trajscope.tui.cli.specs import spec_from_args

    said, out = False, []
    for spec, log in zip(specs, logs):
        if log.is_file() and log.stat().st_size:
            resumed = spec_from_args(args, resume=log, say=not said)
            said = True
            spec = spec | {"search": resumed.to_json(secrets=True)}
        out.append(spec)
    return out


def run(args) -> int:
    from trajscope.engine.batch.executors import LocalExecutor, RayExecutor
    from trajscope.engine.batch.fleet import Fleet
    from trajscope.engine.batch.folder import claim_folder, log_names, run_names
    from trajscope.engine.launch import oracle_words
    from trajscope.engine.tree import resolved_words
    from trajscope.tui.errors import UserError

    if args.parallel < 1:
        raise UserError("--parallel must be at least 1")
    from trajscope.tui.cli.specs import spec_from_args

    spec = spec_from_args(args)
    # with its key: a pipe or Ray hands it to the worker, which never writes it (the log records no secret)
    specs = task_specs(args.tasks, args.instances, spec.to_json(secrets=True))
    if args.executor == "local":
        _check_sandbox_here(spec.sandbox)
    out = Path(args.out)
    # Every name the batch writes is checked before anything starts (a Ray cluster included):
    # a link at summary.jsonl used to be found only once every search had run.
    names = log_names(run_names(specs))[0]
    folder = claim_folder(out, names, args.resume)
    if args.resume:
        try:
            specs = resumed_specs(args, specs, [out / name for name in names])
            if args.executor == "local":  # a log's recorded sandbox is checked as the option's was
                for choice in sorted({s["search"].get("sandbox", "auto") for s in specs} - {spec.sandbox}):
                    _check_sandbox_here(choice)
        except BaseException:
            folder.close()
            raise
    try:
        executor = (
            RayExecutor(args.parallel, args.address, args.resource)
            if args.executor == "ray"
            else LocalExecutor(args.parallel)
        )
    except BaseException:
        folder.close()
        raise
    fleet = Fleet(specs, executor, out, args.parallel, resume=args.resume, folder=folder)
    for task_id, name in fleet.renamed:
        print(
            f"trajscope: the run log of {task_id!r} is {name} (its own name is taken by the batch's own files "
            "or another task)",
            file=sys.stderr,
        )
    fleet.start()
    interrupted = False
    try:
        if args.headless:
            _progress(fleet)
        else:
            from trajscope.tui.app import TrajscopeApp
            from trajscope.tui.remote import FleetSource

            TrajscopeApp(FleetSource(fleet, out), theme=getattr(args, "theme", None)).run()
    except KeyboardInterrupt:
        interrupted = True
    if not fleet.finished:
        print("trajscope: stopping the batch (every search closes, its sandboxes are removed)", file=sys.stderr)
    while True:
        try:  # a second Ctrl-C must not leave the searches half closed
            fleet.stop("interrupted" if interrupted else "stopped by the user")
            break
        except KeyboardInterrupt:
            interrupted = True
    try:
        summary = write_outputs(fleet, out, spec.model)
    finally:
        fleet.close()
    if interrupted:
        print(
            f"trajscope: interrupted; {summary['done']} of {summary['instances']} searches had ended; logs, "
            f"summary.jsonl and predictions.jsonl in {out}\ntrajscope: go on with them: the same command with "
            "--resume (each search goes on from its log)",
            file=sys.stderr,
        )
        return 130
    if args.headless:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"trajscope: {resolved_words(summary['instances'], summary['any_resolved'], summary['selected_resolved'])}"
            f"{oracle_words(summary['oracle'])}; logs, summary.jsonl and predictions.jsonl in {out}",
            file=sys.stderr,
        )
    return 0 if summary["failed"] == 0 else 1


def _check_sandbox_here(choice: str) -> None:
    """The searches of a local batch run here: where bubblewrap cannot confine their commands,
    the batch stops now in the one sentence each search would end in (a Ray batch's searches
    run on other machines, which answer for themselves)."""
    from trajscope.engine.launch import check_confinement

    if choice == "local":
        check_confinement()
    elif choice == "auto":
        from trajscope.engine.sandbox.docker import docker_available

        if not docker_available()[0]:
            check_confinement()


def write_outputs(fleet, out: Path, model: str) -> dict:
    """``summary.jsonl`` (a row per search) and ``predictions.jsonl`` (SWE-bench's format) in
    ``out``; returns the totals."""
    from trajscope.engine.files import WriteError
    from trajscope.tui.errors import UserError

    rows = [m.row() | {"result": m.result} for m in fleet.members]
    predictions = [
        {"instance_id": m.instance_id, "model_name_or_path": model, "model_patch": (m.result or {}).get("patch") or ""}
        for m in fleet.members
    ]
    try:  # atomically, never through a link planted at either name (or at a temporary's)
        fleet.folder.replace("summary.jsonl", "".join(json.dumps(r) + "\n" for r in rows).encode())
        fleet.folder.replace("predictions.jsonl", "".join(json.dumps(p) + "\n" for p in predictions).encode())
    except WriteError as exc:
        raise UserError(f"{exc}; the run logs are in {out}") from None
    totals = fleet.totals()
    return totals | {"summary": str(out / "summary.jsonl"), "predictions": str(out / "predictions.jsonl")}


def _progress(fleet) -> None:
    from rich.console import Console
    from rich.live import Live
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    from trajscope.engine.launch import oracle_words
    from trajscope.engine.tree import resolved_words

    console = Console(stderr=True)
    if not console.is_terminal:  # a CI log: lines it keeps, not a table redrawn at 80 columns
        _plain_progress(fleet, sys.stderr)
        return
    console.print(
        f"[bold]batch[/]: {len(fleet.members)} search(es), {escape(fleet.executor.describe())}, "
        f"logs in {escape(str(fleet.out_dir))}"
    )

    def table() -> Table:
        totals = fleet.totals()
        grid = Table(
            title=(
                f"{totals['done']}/{totals['instances']} done · {totals['running']} running · "
                f"{resolved_words(totals['instances'], totals['any_resolved'], totals['selected_resolved'])}"
                f"{oracle_words(totals['oracle'])} · {totals['failed']} failed · "
                f"{totals['searches_per_hour']:.1f} searches/h · {totals['nodes_per_s']:.2f} nodes/s"
            )
        )
        for column in ("run", "state", "node", "nodes", "best", "subm.", "verdict", "tokens", "restarts", "why"):
            grid.add_column(column, no_wrap=True, overflow="ellipsis")  # Rich fits them to the terminal
        for member in fleet.members[:40]:
            row = member.row()
            grid.add_row(
                Text(row["run"]),
                row["state"],
                Text(row["node"][:12]),
                str(row["nodes"]),
                "" if row["best"] is None else f"{row['best']:.2f}",
                str(row["submissions"]),
                row["verdict"] or "",
                f"{row['tokens']:,}",
                str(row["restarts"]),
                Text(row["reason"]),
            )
        if len(fleet.members) > 40:
            grid.caption = f"and {len(fleet.members) - 40} more (summary.jsonl has them all)"
        return grid

    with Live(table(), console=console, refresh_per_second=2, transient=False) as live:
        while not fleet.wait(0.5):
            live.update(table())
        live.update(table())
    time.sleep(0)


def _plain_progress(fleet, out) -> None:
    """A line for each search whose state, verdict or restarts changed, then the totals: where
    stderr is no terminal, a table redrawn in place is copied whole at each refresh, cut to 80 columns."""
    from trajscope.engine.launch import oracle_words
    from trajscope.engine.tree import resolved_words

    print(
        f"batch: {len(fleet.members)} search(es), {fleet.executor.describe()}, logs in {fleet.out_dir}",
        file=out,
        flush=True,
    )
    seen: dict[str, tuple] = {}

    def report() -> None:
        changed = False
        for member in fleet.members:
            row = member.row()
            now = (row["state"], row["verdict"], row["restarts"], row["reason"])
            if seen.get(member.name) == now:
                continue
            seen[member.name] = now
            changed = True
            parts = [f"{member.name}: {row['state']}", f"{row['nodes']} nodes"]
            parts += [f"best {row['best']:.2f}"] if row["best"] is not None else []
            parts += [row["verdict"]] if row["verdict"] else []
            parts += [f"{row['restarts']} restart(s)"] if row["restarts"] else []
            parts += [row["reason"]] if row["reason"] else []
            print(" · ".join(parts), file=out, flush=True)
        if changed:
            totals = fleet.totals()
            print(
                f"batch: {totals['done']}/{totals['instances']} done · {totals['running']} running · "
                f"{resolved_words(totals['instances'], totals['any_resolved'], totals['selected_resolved'])}"
                f"{oracle_words(totals['oracle'])} · {totals['failed']} failed · {totals['nodes']:,} nodes",
                file=out,
                flush=True,
            )

    while not fleet.wait(0.5):
        report()
    report()
