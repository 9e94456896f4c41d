"""SWE-bench predictions graded as the harness's ``run_evaluation`` does (``trajscope
evaluate``). Predictions are input from anywhere: their fields name folders only through
``safe_name``, a patch over PATCH_LIMIT is refused before grading (in JSON lines without
ever being held whole), and an instance predicted twice is graded once."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from trajscope.engine.sandbox.base import SandboxError


@dataclass
class Prediction:
    """One SWE-bench prediction as ``evaluate`` grades it."""

    instance_id: str
    model: str  # model_name_or_path (``model`` when it has none)
    patch: str | None
    refused: str = ""  # why it is not graded (its patch is over PATCH_LIMIT), in words


_KEYED = re.compile(rb'\{\s*"(?:[^"\\]|\\.)*"\s*:\s*\{')  # {"<instance>": {...}, ...}
_ID_KEY = re.compile(rb'(?<!\\)"instance_id"\s*:\s*"((?:[^"\\]|\\.){1,2000})"')
_MODEL_KEY = re.compile(rb'(?<!\\)"model_name_or_path"\s*:\s*"((?:[^"\\]|\\.){1,2000})"')


def read_predictions(path: str | Path, limit: int | None = None) -> list[Prediction]:
    """SWE-bench predictions (``instance_id``, ``model_name_or_path``, ``model_patch``) from a
    JSON list, a JSON object keyed by instance, or JSON lines; TaskError with one sentence.
    A patch over ``limit`` (PATCH_LIMIT) is refused, its prediction kept to be counted; in
    JSON lines such a line is never held in memory whole."""
    from trajscope.engine.jsonio import BOM, NotRegularFile, loads, read_regular
    from trajscope.engine.sandbox.local import PATCH_LIMIT
    from trajscope.engine.tasks import TaskError

    limit = PATCH_LIMIT if limit is None else limit
    room = limit + (1 << 20)  # a line's other fields and its escapes
    try:
        with _open_regular(path) as fh:
            first = fh.readline(1 << 20)  # enough to tell JSON lines from one JSON document
            lead = first.lstrip(BOM + b" \t\r\n")
            long_line = len(first) == 1 << 20 and not first.endswith(b"\n")
            if lead[:1] == b"{" and not _KEYED.match(lead) and (long_line or _one_object(first)):
                fh.seek(0)
                return _prediction_lines(fh, path, limit, room)
        raw = read_regular(path)
    except (NotRegularFile, OSError) as exc:
        raise TaskError(f"cannot read {path} ({exc})") from None
    try:
        data = loads(raw)
        rows = list(data.values()) if isinstance(data, dict) and "instance_id" not in data else data
        rows = rows if isinstance(rows, list) else [rows]
    except ValueError:
        try:
            rows = [loads(line) for line in raw.splitlines() if line.strip()]
        except ValueError:
            raise TaskError(f"{path} is neither JSON nor JSON lines of predictions") from None
    del raw
    return [_prediction(row, i + 1, path, limit) for i, row in enumerate(rows)]


@contextmanager
def _open_regular(path: str | Path):
    import os
    import stat

    from trajscope.engine.jsonio import NotRegularFile

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFile(f"{path} is not a regular file")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    with open(fd, "rb") as fh:
        yield fh


def _one_object(line: bytes) -> bool:
    """Whether ``line`` is a whole JSON object by itself (so the file is JSON lines)."""
    from trajscope.engine.jsonio import BOM, loads

    try:
        return isinstance(loads(line.removeprefix(BOM)), dict)
    except ValueError:
        return False


def _prediction_lines(fh, path, limit: int, room: int) -> list[Prediction]:
    """JSON lines, read a MiB at a time: a line past ``room`` bytes is never joined whole."""
    from trajscope.engine.jsonio import BOM, loads
    from trajscope.engine.tasks import TaskError

    out = []
    number = 0
    while True:
        chunks, size = [], 0
        while chunk := fh.readline(1 << 20):
            chunks.append(chunk)
            size += len(chunk)
            if chunk.endswith(b"\n") or size > room:
                break
        if not chunks:
            return out
        number += 1
        if size > room and not chunks[-1].endswith(b"\n"):
            head, tail = chunks[0], b"".join(chunks[-2:])[-(1 << 20) :]
            del chunks
            out.append(_skip_long_line(fh, head, tail, size, number, path, limit))
            continue
        line = b"".join(chunks)
        del chunks
        if not line.strip():
            continue
        try:
            row = loads(line.removeprefix(BOM) if number == 1 else line)
        except ValueError:
            raise TaskError(f"{path} line {number} is not JSON") from None
        out.append(_prediction(row, number, path, limit))


def _skip_long_line(fh, head: bytes, tail: bytes, size: int, number: int, path, limit: int) -> Prediction:
    """A line too long to be a prediction within the limit: read on to its end a MiB at a
    time, keeping only its first and last MiB to find whose it is."""
    from trajscope.engine.jsonio import loads
    from trajscope.engine.tasks import TaskError

    while chunk := fh.readline(1 << 20):
        size += len(chunk)
        tail = (tail + chunk)[-(1 << 20) :]
        if chunk.endswith(b"\n"):
            break

    def field(key: re.Pattern) -> str | None:
        found = key.search(head) or key.search(tail)
        try:
            return loads(b'"' + found.group(1) + b'"') if found else None
        except ValueError:
            return None

    iid = field(_ID_KEY)
    if not isinstance(iid, str):
        raise TaskError(
            f"{path} line {number} is {size:,} bytes, over the {limit:,}-byte patch limit, and names no instance_id"
        )
    return Prediction(
        iid,
        field(_MODEL_KEY) or "model",
        None,
        f"its line is {size:,} bytes: the patch is over the {limit:,}-byte limit for patches",
    )


def _prediction(row, number: int, path, limit: int) -> Prediction:
    from trajscope.engine.jsonio import text_of
    from trajscope.engine.tasks import TaskError

    if not isinstance(row, dict) or not isinstance(row.get("instance_id"), str):
        raise TaskError(f"{path}: prediction {number} has no instance_id")
    patch = row.get("model_patch")
    patch = None if patch is None else text_of(patch)
    refused = ""
    if patch is not None and len(patch) > limit:  # characters: at least as many bytes
        refused, patch = f"its patch is over the {limit:,}-byte limit for patches", None
    return Prediction(row["instance_id"], text_of(row.get("model_name_or_path")) or "model", patch, refused)


def unique_predictions(predictions: list[Prediction]) -> tuple[list[Prediction], list[str]]:
    """One prediction per instance (the last, as the harness keeps it) and the ids that had more."""
    last = {p.instance_id: p for p in predictions}
    seen: dict[str, int] = {}
    for p in predictions:
        seen[p.instance_id] = seen.get(p.instance_id, 0) + 1
    return list(last.values()), [i for i, n in seen.items() if n > 1]


REPORT_FILES = ("test_output.txt", "report.json")
NOT_IN_DATASET = "not graded: not in the dataset"
"""What ``evaluate`` writes in each graded instance's folder."""


def dataset_tasks(datasets: list[str | Path]) -> dict:
    """instance_id -> Task over every dataset given (``load_tasks``: files, task directories,
    folders of them, bundled names), the first to hold an instance winning; read before any
    grade, so a dataset that cannot be read is one sentence and nothing graded."""
    from trajscope.engine.tasks import load_tasks

    found: dict = {}
    for dataset in datasets:
        for task in load_tasks(dataset):
            found.setdefault(task.instance_id, task)
    return found


def evaluate(
    predictions: list[Prediction],
    dataset: str | Path | list,
    out: str | Path,
    run_id: str,
    sandbox: str = "docker",
    workers: int = 1,
    timeout: float = 600.0,
    on_done: Callable[[str, dict], None] = lambda i, r: None,
) -> tuple[dict, Path, list[str]]:
    """Grade predictions the way ``swebench.harness.run_evaluation`` does: each instance once
    (the last of its predictions), in a fresh sandbox (``verify``: the harness's eval script and
    grading when it is installed), a ``report.json`` and ``test_output.txt`` per instance under
    ``out/logs/run_evaluation/<run_id>/<its model>/<instance>/``, and the summary report
    ``out/<model>.<run_id>.json`` (its fields and its ``*_ids`` lists; the first prediction's
    model). Every name is made safe from its field (engine/files.py).

    Every folder is made and every name checked before the first grade, so a folder it cannot
    write (a link planted there) is refused (WriteError) with nothing graded. A report file
    that still cannot be written after its grade (the folder changed meanwhile) costs only that
    file: the summary of everything graded is written all the same, beside its usual name if
    that name was taken from it. Returns the summary, its path, and a sentence per file that
    could not be written."""
    from trajscope.engine.files import Folder, WriteError, safe_name
    from trajscope.engine.tasks import TaskError
    from trajscope.engine.verification import verify

    predictions, _ = unique_predictions(predictions)
    datasets = [dataset] if isinstance(dataset, (str, Path)) else list(dataset)
    tasks = dataset_tasks(datasets)
    ids: dict[str, list[str]] = {k: [] for k in ("completed", "resolved", "unresolved", "empty_patch", "error")}
    unwritten: list[str] = []

    def folder_name(model: str) -> str:
        return safe_name(model.replace("/", "__"))

    lead = folder_name(predictions[0].model if predictions else "model")
    summary_stem = safe_name(f"{lead}.{safe_name(run_id)}", limit=200)
    with Folder(out) as top:
        top.check_target(summary_stem + ".json")
        with (
            top.folder("logs") as logs,
            logs.folder("run_evaluation") as runs_top,
            runs_top.folder(safe_name(run_id)) as runs,
        ):
            for pred in predictions:
                if pred.patch and not pred.refused:
                    with runs.folder(folder_name(pred.model)) as model, model.folder(safe_name(pred.instance_id)) as f:
                        for name in REPORT_FILES:
                            f.check_target(name)

            def write_reports(pred: Prediction, files: dict[str, bytes]) -> None:
                try:  # folders are opened again, by descriptor: one open per model would run out of them
                    with runs.folder(folder_name(pred.model)) as model, model.folder(safe_name(pred.instance_id)) as f:
                        for name, data in files.items():
                            f.replace(name, data)
                except WriteError as exc:
                    unwritten.append(f"the report of {pred.instance_id!r}: {exc}")

            def one(pred: Prediction) -> tuple[str, dict]:
                iid, patch = pred.instance_id, pred.patch
                report = {
                    "patch_is_None": patch is None,
                    "patch_exists": bool(patch),
                    "patch_successfully_applied": False,
                    "resolved": False,
                }
                if pred.refused:
                    return iid, report | {"outcome": "error", "error": f"not graded: {pred.refused}"}
                if not patch:
                    return iid, report | {"outcome": "empty_patch"}
                task = tasks.get(iid)
                if task is None:  # never graded against another instance's tests
                    where = ", ".join(str(d) for d in datasets)
                    return iid, report | {"outcome": "error", "error": f"{NOT_IN_DATASET} ({where})"}
                try:
                    result = verify(task, patch, sandbox=sandbox, timeout=timeout)
                except (TaskError, SandboxError) as exc:
                    return iid, report | {"outcome": "error", "error": str(exc)}
                tests = result.to_json()
                report |= {
                    "patch_successfully_applied": result.patch_applied,
                    "resolved": result.resolved,
                    "tests_status": {
                        k: {"success": tests[k]["success"], "failure": tests[k]["failure"]}
                        for k in ("FAIL_TO_PASS", "PASS_TO_PASS")
                    },
                    "grader": result.grader,
                }
                write_reports(
                    pred,
                    {
                        "test_output.txt": result.log.encode("utf-8", "replace"),
                        "report.json": json.dumps({iid: report}, indent=2).encode(),
                    },
                )
                outcome = "error" if result.verdict == "error" else "resolved" if result.resolved else "unresolved"
                return iid, report | {"outcome": outcome, "error": result.error or None}

            with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
                for iid, report in pool.map(one, predictions):
                    outcome = report.pop("outcome")
                    ids[outcome].append(iid)
                    if outcome in ("resolved", "unresolved"):
                        ids["completed"].append(iid)
                    on_done(iid, report | {"outcome": outcome})
        summary = {
            "total_instances": len(predictions),
            "submitted_instances": len(predictions),
            "completed_instances": len(ids["completed"]),
            "resolved_instances": len(ids["resolved"]),
            "unresolved_instances": len(ids["unresolved"]),
            "empty_patch_instances": len(ids["empty_patch"]),
            "error_instances": len(ids["error"]),
            **{f"{k}_ids": sorted(v) for k, v in ids.items()},
            "schema_version": 2,
        }
        data = json.dumps(summary, indent=2).encode()
        try:
            path = top.replace(summary_stem + ".json", data)
        except WriteError as exc:  # the grades are kept under a new name, never lost
            path = top.create_unique(summary_stem, ".json", data)
            unwritten.append(f"the summary at its usual name: {exc} (written to {path.name} instead)")
    return summary, path, unwritten
