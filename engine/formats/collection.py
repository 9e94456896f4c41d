"""Many runs at once: a folder of trajectories, an evaluation's ``output.jsonl``, and the
verdicts of a SWE-bench harness report (docs/exports.md, "Many runs").

``find_runs`` lists the runs of a path without parsing them (a file's name, a line's
place in a JSONL file), so a thousand list at once; ``RunRef.load`` parses one when it
is opened. ``find_verdicts`` reads the harness's reports under a folder: which
instances were resolved, so imported submissions get their verdicts.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from trajscope.engine.events import ReadCounts
from trajscope.engine.formats import FormatError, Loaded, run_name, check_steps, convert_data, load, read_input
from trajscope.engine.formats import openhands
from trajscope.engine.jsonio import BOM, loads, text_of

RUN_SUFFIXES = (".traj", ".traj.json", ".root", ".jsonl")
# A .json file is a run when its head names one of these (reports, configs and predictions are not).
_RUN_MARKERS = (b'"trajectory', b'"messages"', b'"history"', b'"root"', b'"observation"', b'"action"', b'"transition')
_NOT_RUNS = {
    "report.json",
    "results.json",
    "preds.json",
    "predictions.json",
    "config.json",
    "metadata.json",
    "overall_evaluation_results.json",
}
MAX_DEPTH = 8
MAX_RUNS = 100_000
HEAD = 65536  # bytes of a .json file searched for a trajectory's keys (a mini-swe-agent config comes first)


@dataclass
class RunRef:
    """One run of a path: a whole file, a line of a multi-run JSONL file, or an events folder."""

    path: Path
    name: str
    line: int | None = None  # 0-based line of a multi-run JSONL file
    span: tuple[int, int] | None = None  # its bytes in the file
    folder: bool = False  # an OpenHands ``events/`` folder
    instance: str | None = None  # the SWE-bench instance a person named (--instance): see name_instance

    @property
    def label(self) -> str:
        return self.name

    def load(self, verdicts: dict[str, bool] | None = None) -> Loaded:
        """Parse this run (FormatError with one sentence when it cannot be read)."""
        if self.folder:
            loaded = Loaded(openhands.convert(_events_folder(self.path), self.name), "openhands")
        elif self.span is not None:
            start, end = self.span
            with open(self.path, "rb") as fh:
                fh.seek(start)
                raw = fh.read(end - start)
            where = f"{self.path} line {self.line + 1}"
            try:
                data = loads(raw)
            except ValueError:
                raise FormatError(f"{where} is not valid JSON") from None
            try:
                events, fmt = convert_data(data, self.name)
            except FormatError as exc:
                raise FormatError(f"{where}: {exc}") from None
            except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as exc:
                raise FormatError(f"{where} looks like a known format but is damaged ({type(exc).__name__})") from None
            try:
                check_steps(events, fmt, "run")
            except FormatError as exc:
                raise FormatError(f"{where}: {exc}") from None
            loaded = Loaded(events, fmt, ReadCounts())
        else:
            loaded = load(self.path)
        if self.instance:
            name_instance(loaded.events, self.instance)
        if verdicts:
            apply_verdicts(loaded.events, verdicts)
        return loaded


def _events_folder(path: Path) -> list[dict]:
    """The events of an OpenHands session folder (``events/0.json``, ``1.json``, ...), in order."""
    files = sorted((p for p in path.iterdir() if p.suffix == ".json" and p.stem.isdigit()), key=lambda p: int(p.stem))
    events = []
    for file in files:
        try:
            event = loads(read_input(file))
        except (ValueError, FormatError):
            continue  # one damaged event file: the others still make the run
        if isinstance(event, dict):
            events.append(event)
    return events


def is_events_folder(path: Path) -> bool:
    try:
        names = [p.name for p in path.iterdir()]
    except OSError:
        return False
    numbered = [n for n in names if n.endswith(".json") and n[:-5].isdigit()]
    return len(numbered) >= 2 and len(numbered) >= len(names) // 2


def _head(path: Path, limit: int) -> bytes:
    """Up to ``limit`` bytes of a regular file ("" for anything else: a FIFO is never
    waited on, whatever its name; an unreadable file is "" too)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return b""
    try:
        return os.read(fd, limit) if stat.S_ISREG(os.fstat(fd).st_mode) else b""
    except OSError:
        return b""
    finally:
        os.close(fd)


def jsonl_runs(path: Path) -> list[RunRef] | None:
    """The runs of a multi-run JSONL file (an OpenHands ``output.jsonl``), or None when it
    is not one (a run log is one run). Only a file whose first line names a ``history`` is
    read whole: a folder of large run logs lists without reading them."""
    if b'"history"' not in _head(path, 1 << 20).split(b"\n", 1)[0]:
        return None
    raw = read_input(path)
    first_end = raw.find(b"\n")
    head = raw[: first_end if first_end >= 0 else len(raw)].removeprefix(BOM)
    try:
        first = loads(head)
    except ValueError:
        return None
    if not (isinstance(first, dict) and isinstance(first.get("history"), list)):
        return None
    refs, start = [], 0
    while start < len(raw) and len(refs) < MAX_RUNS:
        end = raw.find(b"\n", start)
        end = len(raw) if end < 0 else end
        line = raw[start:end]
        if line.strip():
            index = len(refs)
            name = _instance_in(line) or f"{run_name(path)}-{index + 1}"
            refs.append(RunRef(path, name, index, (start, end)))
        start = end + 1
    return refs


def _instance_in(line: bytes) -> str | None:
    """The ``instance_id`` of a JSONL line, found without parsing the whole line."""
    at = line.find(b'"instance_id"')
    if at < 0:
        return None
    rest = line[at + 13 : at + 400].lstrip(b" :")
    if not rest.startswith(b'"'):
        return None
    end = rest.find(b'"', 1)
    return rest[1:end].decode("utf-8", "replace") if end > 0 else None


def _is_run_json(path: Path) -> bool:
    """A ``.json`` file whose head names a trajectory; one whose head cannot be read is
    listed too, so its row says why it cannot be read."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD)
    except OSError:
        return True
    return head.lstrip(BOM + b" \t\r\n")[:1] in (b"{", b"[") and any(m in head for m in _RUN_MARKERS)


class RunList(list):
    """The runs of a path (RunRefs), and ``skipped``: every other file found there, each
    with why it is not a run, so a view can say what it left out."""

    def __init__(self, refs=(), skipped: list[tuple[Path, str]] | None = None) -> None:
        super().__init__(refs)
        self.skipped: list[tuple[Path, str]] = skipped if skipped is not None else []


def _why_not(file: Path, name: str) -> str | None:
    """Why a file found in a folder is not a run (None when it may be one)."""
    if file.is_symlink():
        return "a link (links are not followed)"
    if not file.is_file():
        return "not a regular file (a FIFO, a socket or a device)"
    if name.endswith(".jsonl"):
        return "SWE-bench predictions or a batch summary, not a run" if _is_not_a_run_jsonl(file) else None
    if name.endswith(RUN_SUFFIXES):
        return None
    if name.endswith(".json"):
        if name in _NOT_RUNS:
            return "a report, predictions or settings, by its name"
        return None if _is_run_json(file) else f"JSON that names no trajectory in its first {HEAD // 1024} KB"
    return "not a trajectory file by its name"


def skipped_lines(skipped: list[tuple[Path, str]], shown: int = 3) -> list[str]:
    """One line per reason: how many files, why, and the first few of them."""
    by_reason: dict[str, list[Path]] = {}
    for path, reason in skipped:
        by_reason.setdefault(reason, []).append(path)
    lines = []
    for reason, paths in by_reason.items():
        names = ", ".join(str(p) for p in paths[:shown]) + (
            f" and {len(paths) - shown} more" if len(paths) > shown else ""
        )
        lines.append(f"{len(paths)} file{'s' if len(paths) > 1 else ''} not read as runs, {reason}: {names}")
    return lines


def _is_not_a_run_jsonl(path: Path) -> bool:
    """A JSONL file of SWE-bench predictions (``instance_id`` + ``model_patch``, as SWE-agent's
    ``all_preds.jsonl`` or a batch's ``predictions.jsonl``) or a batch's ``summary.jsonl``
    (rows with ``state`` and ``log``): not runs, though they sit beside them."""
    first = _head(path, 1 << 16).split(b"\n", 1)[0].removeprefix(BOM)
    try:
        row = loads(first)
    except ValueError:
        return False
    if not isinstance(row, dict) or "type" in row or "history" in row:
        return False
    return ("model_patch" in row and "instance_id" in row) or {"instance_id", "state", "log"} <= row.keys()


def find_runs(path: str | Path) -> RunList:
    """Every run under ``path`` (a file, or a folder searched MAX_DEPTH deep, links not
    followed), in path order; FormatError when there is none. Every other file found is
    in ``skipped`` with why: a file is a run (a row, which says why when it cannot be
    read) or a reason, never dropped without a word."""
    path = Path(path)
    if path.is_file():
        if path.suffix == ".jsonl":
            refs = jsonl_runs(path)
            if refs:
                return RunList(refs)
        return RunList([RunRef(path, run_name(path))])
    if not path.is_dir():
        raise FormatError(f"{path} does not exist")
    refs = RunList()
    root_depth = len(path.parts)
    for folder, dirs, files in os.walk(path, followlinks=False):
        here = Path(folder)
        dirs.sort()
        if len(here.parts) - root_depth >= MAX_DEPTH:
            refs.skipped += [(here / d, f"a folder deeper than {MAX_DEPTH} levels, not searched") for d in dirs]
            dirs.clear()
        if here.name == "events" and is_events_folder(here):
            refs.append(RunRef(here, here.parent.name or "events", folder=True))
            dirs.clear()
            continue
        refs.skipped += [(here / d, "a link (links are not followed)") for d in dirs if (here / d).is_symlink()]
        for name in sorted(files):
            file = here / name
            why = _why_not(file, name)
            if why:
                refs.skipped.append((file, why))
                continue
            if name.endswith(".jsonl"):
                try:
                    many = jsonl_runs(file)
                except FormatError:  # too large, unreadable: its row says so when it is read
                    many = None
                refs.extend(many or [RunRef(file, run_name(file))])
            else:
                refs.append(RunRef(file, run_name(file)))
            if len(refs) >= MAX_RUNS:
                refs.skipped.append(
                    (here, f"the listing stopped at {MAX_RUNS:,} runs; the rest of {path} is not listed")
                )
                return refs
    if not refs:
        why = "; ".join(skipped_lines(refs.skipped, 2)[:3])
        raise FormatError(f"{path} holds no trajectory or run log trajscope reads" + (f" ({why})" if why else ""))
    return refs


# -- verdicts from the harness ------------------------------------------------------------------
REPORT_NAMES = ("report.json", "results.json")


def verdicts_of(data: object) -> dict[str, bool]:
    """Resolved verdicts from one report: the harness's per-instance ``report.json``
    (``{id: {"resolved": bool}}``), a summary with ``resolved_ids`` / ``unresolved_ids``
    (the harness's final report, OpenHands' and mini-swe-agent's)."""
    found: dict[str, bool] = {}
    if isinstance(data, dict):
        keys = ("resolved_ids", "unresolved_ids", "error_ids", "completed_ids", "empty_patch_ids")
        ids = {k: data.get(k) for k in keys}
        if isinstance(ids["resolved_ids"], list):
            for key in keys[1:]:
                for iid in ids[key] or []:
                    found[text_of(iid)] = False
            for iid in ids["resolved_ids"]:
                found[text_of(iid)] = True
            return found
        for iid, entry in data.items():
            if isinstance(entry, dict) and isinstance(entry.get("resolved"), bool):
                found[text_of(iid)] = entry["resolved"]
    return found


def _is_summary(path: Path) -> bool:
    """A harness summary (``<model>.<run>.json``): a JSON object that lists ``resolved_ids``."""
    if not path.name.endswith(".json") or path.is_symlink():
        return False
    head = _head(path, 65536)
    return head.lstrip(BOM + b" \t\r\n")[:1] == b"{" and b'"resolved_ids"' in head


def find_verdicts(path: str | Path) -> dict[str, bool]:
    """The verdicts of every harness report under ``path`` (or of the report file itself)."""
    path = Path(path)
    files = [path] if path.is_file() else []
    if path.is_dir():
        for folder, dirs, names in os.walk(path, followlinks=False):
            dirs.sort()
            if len(Path(folder).parts) - len(path.parts) >= MAX_DEPTH + 2:
                dirs.clear()
            files += [Path(folder) / n for n in sorted(names) if n in REPORT_NAMES or _is_summary(Path(folder) / n)]
    verdicts: dict[str, bool] = {}
    for file in files:
        try:
            data = loads(read_input(file))
        except (ValueError, FormatError):
            continue
        verdicts.update(verdicts_of(data))
    return verdicts


def name_instance(events: list[dict], instance: str) -> bool:
    """Give a run the SWE-bench instance a person named where its file records none (its
    task was named after the file, as SWE-agent's ``.traj`` without a replay config, or from
    its content, as a DARS tree); True when the run has ``instance`` now. A file that
    records another instance keeps its own."""
    started = next((e for e in events if e.get("type") == "run_started"), None)
    if started is None:
        return False
    task = started.get("task") if isinstance(started.get("task"), dict) else {}
    current = text_of(task.get("instance_id") or "")
    if current and current != started.get("run") and task.get("instance_from") != "content":
        return current == instance
    task = {k: v for k, v in task.items() if k != "instance_from"}
    started["task"] = {**task, "instance_id": instance, "instance_from": "--instance"}
    return True


def apply_verdicts(events: list[dict], verdicts: dict[str, bool]) -> int:
    """Give imported submissions the harness's verdict for their instance; how many got one."""
    started = next((e for e in events if e.get("type") == "run_started"), {})
    instance = text_of((started.get("task") or {}).get("instance_id") or "")
    if instance not in verdicts:
        return 0
    given = 0
    for event in events:
        if event.get("type") == "submitted" and not (event.get("verified") or {}).get("verdict"):
            resolved = verdicts[instance]
            event["verified"] = {
                "resolved": resolved,
                "verdict": "resolved" if resolved else "unresolved",
                "passed": [],
                "failed": [],
                "source": "harness report",
            }
            given += 1
    return given
