"""The bundled data: demo tasks, a demo run, the PRM's training steps. One place says
where they are and what counts as a task directory."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
TASKS = HERE / "tasks"
RUNS = HERE / "runs"
PRM_STEPS = HERE / "prm" / "steps.jsonl.gz"


def is_task_dir(path: Path) -> bool:
    """A task directory holds a ``task.json``."""
    return (Path(path) / "task.json").is_file()


def task_dirs() -> list[Path]:
    """The bundled task directories, by name."""
    return sorted(p for p in TASKS.iterdir() if is_task_dir(p)) if TASKS.is_dir() else []
