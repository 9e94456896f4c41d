"""A batch's folder: what each search's run log is called in it, the batch's own files, the
folder claimed (checked and locked) before any search starts, and the selected verdicts read back
from its summary. Everything written there goes through engine/files.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from trajscope.engine.files import Folder, LogBusy, WriteError, safe_name


OWN_FILES = ("summary", "predictions")
"""The batch's own files (``<name>.jsonl`` in its folder): no task's run log may take their names."""


def run_names(specs: list[dict]) -> list[str]:
    """What each search of a batch is called: the task as the person named it, the folder of a
    task directory (``duration-ms-unit``, not the id inside its task.json) or the instance id of
    a SWE-bench row. Its run log, its events' ``run`` and its row in every view take this name;
    the predictions keep the instance id the harness grades."""
    return [
        spec["name"] if spec.get("instance") or not spec.get("task") else Path(spec["task"]).name or spec["name"]
        for spec in specs
    ]


def log_names(ids: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """A run log name for each task id (``<safe id>.jsonl``), none the same (case aside) and none
    one of the batch's own files; and the (id, name) of those that had to get a suffix."""
    names, taken, renamed = [], set(), []
    for task_id in ids:
        stem = safe_name(task_id)
        if stem.casefold() in OWN_FILES:
            stem += "-task"
        while stem.casefold() in taken:
            stem += "_"
        taken.add(stem.casefold())
        names.append(f"{stem}.jsonl")
        if stem != safe_name(task_id):
            renamed.append((task_id, names[-1]))
    return names, renamed


SUMMARY_LIMIT = 64 << 20  # bytes of a summary.jsonl read (a row is a few hundred bytes)


def selected_verdicts(folder: Path) -> dict[str, bool]:
    """Whether each run's selected patch resolved, from a batch folder's ``summary.jsonl``, by its
    run log's file name; empty where the folder holds no batch summary. The file may come from
    anywhere: a row that is not an object with a string ``log`` and a boolean verdict is passed over."""
    path = Path(folder) / "summary.jsonl"
    if path.is_symlink() or not path.is_file():
        return {}
    try:
        with open(path, "rb") as fh:
            data = fh.read(SUMMARY_LIMIT)
    except OSError:
        return {}
    found = {}
    for line in data.splitlines():
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(row, dict) or not isinstance(row.get("log"), str):
            continue
        verdict = row.get("selected_resolved", row.get("resolved"))  # "resolved": a batch before both were named
        if isinstance(verdict, bool):
            found[Path(row["log"]).name] = verdict
    return found


def claim_folder(out_dir: Path, names: list[str], resume: bool = False) -> Folder:
    """The batch's folder, opened and locked for the batch's life, once every name the batch
    will write in it is checked: its own files (a link or a FIFO there), each run log (a link,
    a log already there without ``resume``, a file that is not a run log), so a batch that
    cannot write its results is refused before any search starts, not after all of them ran."""
    from trajscope.engine.events import check_run_log
    from trajscope.engine.batch import BatchError

    try:
        folder = Folder(out_dir)
    except WriteError as exc:
        raise BatchError(str(exc)) from None
    try:
        folder.lock()  # held until the folder is closed: one batch writes a folder
        for own in OWN_FILES:
            folder.check_target(f"{own}.jsonl")
        for name in names:
            log = folder.check_target(name)
            if log.exists() and log.stat().st_size:
                if not resume:
                    raise BatchError(f"{log} already exists; choose another --out, or --resume to go on with the batch")
                with folder.open_append(name, create=False) as fh:
                    check_run_log(fh.fileno(), log)
    except LogBusy as exc:
        folder.close()
        where = " in this process" if exc.pid == os.getpid() else f" as process {exc.pid}" if exc.pid else ""
        raise BatchError(
            f"{out_dir} is the folder of a batch still running{where}; wait for it to end or choose another --out"
        ) from None
    except WriteError as exc:
        folder.close()
        raise BatchError(str(exc)) from None
    except BaseException:
        folder.close()
        raise
    return folder
