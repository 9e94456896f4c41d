"""Tasks shaped like SWE-bench instances and their loaders (verification: ``engine.verification``).

A task is either an instance of a SWE-bench JSON/JSONL file (its code lives in
the instance's Docker image, at ``/testbed``) or a *task directory*:
``task.json`` with the SWE-bench fields plus ``repo/`` holding the code at its
base state; an optional ``gold.patch`` next to them is the reference fix.

SWE-bench 5.x *task repositories* are read too: ``tasks/<instance_id>/`` holding
``task.yaml``, ``tests.json``, ``gold.patch``, ``test.patch``, ``eval.sh`` and
``problem_statement.md`` (the instance's code is in its image, as for a dataset row).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from trajscope.engine.sandbox.base import Sandbox
from trajscope.engine.errors import UserCausedError

REQUIRED = ("instance_id", "problem_statement", "FAIL_TO_PASS", "PASS_TO_PASS", "test_patch")
DEFAULT_TEST_COMMAND = "python3 -m pytest -rA -p no:cacheprovider"
TEST_TIMEOUT = 600.0


class TaskError(UserCausedError):
    """A task cannot be loaded or verified; the message is one sentence for the user."""


@dataclass(slots=True)
class Task:
    instance_id: str
    problem_statement: str
    repo: str = ""  # the project's name, "owner/name"
    base_commit: str = ""
    test_patch: str = ""
    FAIL_TO_PASS: list[str] = field(default_factory=list)
    PASS_TO_PASS: list[str] = field(default_factory=list)
    test_command: str = DEFAULT_TEST_COMMAND
    image: str = ""  # Docker image; empty means trajscope's base image
    repo_dir: Path | None = None  # the code at its base state, for task directories
    workdir: str = "/repo"  # where the code is in a container
    gold_patch: str | None = None
    path: Path | None = None
    row: dict | None = None  # a SWE-bench instance as its file gives it (the harness grades from it)
    env_setup: str = ""  # run before every command in a container (SWE-bench: activate testbed)

    def open_sandbox(self, kind: str = "local", **options) -> Sandbox:
        """A fresh sandbox holding this task's code at its base state."""
        if kind in ("local", "none"):  # none: the local sandbox without bubblewrap, asked for by name
            from trajscope.engine.sandbox.local import LocalSandbox

            if self.repo_dir is None:
                raise TaskError(f"{self.instance_id} has its code only in a Docker image; use --sandbox docker")
            return LocalSandbox(self.repo_dir, isolate=kind == "local", **options)
        if kind == "docker":
            from trajscope.engine.sandbox.docker import BASE_IMAGE, DockerSandbox

            if self.env_setup:
                options.setdefault("setup", self.env_setup)
            return DockerSandbox(self.image or BASE_IMAGE, self.repo_dir, repo=self.workdir, **options)
        raise TaskError(f"unknown sandbox {kind!r}: use docker, local or none")

    def to_json(self) -> dict:
        return {
            "instance_id": self.instance_id,
            "problem_statement": self.problem_statement,
            "repo": self.repo,
            "base_commit": self.base_commit,
            "test_patch": self.test_patch,
            "FAIL_TO_PASS": self.FAIL_TO_PASS,
            "PASS_TO_PASS": self.PASS_TO_PASS,
            "test_command": self.test_command,
            "image": self.image,
        }


def _tests(value, where: str, name: str) -> list[str]:
    if isinstance(value, str):  # SWE-bench stores these lists as JSON text
        try:
            value = json.loads(value)
        except ValueError:
            raise TaskError(f"{where}: {name} is not a list of test names") from None
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise TaskError(f"{where}: {name} is not a list of test names")
    return value


def _task_from(data: dict, where: str, **extra) -> Task:
    if not isinstance(data, dict):
        raise TaskError(f"{where}: a task must be a JSON object")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise TaskError(f"{where} lacks {', '.join(missing)}")
    return Task(
        instance_id=str(data["instance_id"]),
        problem_statement=str(data["problem_statement"]),
        repo=str(data.get("repo") or ""),
        base_commit=str(data.get("base_commit") or ""),
        test_patch=str(data["test_patch"] or ""),
        FAIL_TO_PASS=_tests(data["FAIL_TO_PASS"], where, "FAIL_TO_PASS"),
        PASS_TO_PASS=_tests(data["PASS_TO_PASS"], where, "PASS_TO_PASS"),
        test_command=str(data.get("test_command") or DEFAULT_TEST_COMMAND),
        image=str(data.get("image") or ""),
        **extra,
    )


def load_task_dir(path: str | Path) -> Task:
    path = Path(path)
    spec = path / "task.json"
    if not spec.is_file():
        raise TaskError(f"{path} is not a task directory (no task.json)")
    try:
        data = json.loads(spec.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise TaskError(f"{spec} is not valid JSON ({exc})") from None
    repo = path / "repo"
    if not repo.is_dir():
        raise TaskError(f"{path} has no repo/ directory with the code")
    gold = path / "gold.patch"
    return _task_from(
        data,
        str(spec),
        repo_dir=repo,
        path=path,
        gold_patch=gold.read_text(encoding="utf-8") if gold.is_file() else None,
    )


TESTBED_SETUP = (
    "if [ -f /opt/miniconda3/bin/activate ]; then . /opt/miniconda3/bin/activate >/dev/null 2>&1 "
    "&& conda activate testbed >/dev/null 2>&1; fi"
)
"""What the harness's scripts do first in a SWE-bench image, and so every command there:
the ``testbed`` conda environment, where the project and its test dependencies live."""


def swebench_image(instance_id: str) -> str:
    """The name SWE-bench gives the evaluation image of an instance."""
    return f"swebench/sweb.eval.x86_64.{instance_id.replace('__', '_1776_')}:latest".lower()


def load_swebench(path: str | Path, instance_id: str | None = None) -> list[Task]:
    """The instances of a SWE-bench JSON or JSONL file (one, when ``instance_id`` is given)."""
    path = Path(path)
    from trajscope.engine.jsonio import read_regular

    try:
        text = read_regular(path).decode("utf-8").removeprefix("\ufeff")
    except (OSError, UnicodeDecodeError) as exc:
        raise TaskError(f"cannot read {path} ({exc})") from None
    try:
        rows = json.loads(text)
        rows = rows if isinstance(rows, list) else [rows]
    except ValueError:
        try:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError:
            raise TaskError(f"{path} is neither JSON nor JSON lines") from None
    tasks = []
    for i, row in enumerate(rows):
        if instance_id is not None and isinstance(row, dict) and row.get("instance_id") != instance_id:
            continue
        task = _task_from(
            row, f"{path} (instance {i + 1})", workdir="/testbed", path=path, row=row, env_setup=TESTBED_SETUP
        )
        task.image = task.image or swebench_image(task.instance_id)
        if task.gold_patch is None and isinstance(row.get("patch"), str):
            task.gold_patch = row["patch"]
        tasks.append(task)
    if instance_id is not None and not tasks:
        raise TaskError(f"{path} has no instance {instance_id}")
    return tasks


# a task repository's files and the row columns they hold (swebench 5.x's layout)
_REPO_TASK_FILES = {
    "patch": "gold.patch",
    "test_patch": "test.patch",
    "eval_script": "eval.sh",
    "problem_statement": "problem_statement.md",
    "hints_text": "hints.md",
}


def is_repo_task(path: Path) -> bool:
    return (path / "task.yaml").is_file() and (path / "tests.json").is_file()


def load_repo_task(path: str | Path) -> Task:
    """One ``tasks/<instance_id>/`` directory of a SWE-bench task repository, as a row."""
    import yaml

    path = Path(path)
    from trajscope.engine.jsonio import read_regular

    def text(name: str) -> str:
        try:
            return read_regular(path / name).decode("utf-8")
        except FileNotFoundError:
            return ""
        except (OSError, UnicodeDecodeError) as exc:
            raise TaskError(f"cannot read {path / name} ({exc})") from None

    try:
        row = yaml.safe_load(text("task.yaml"))
        tests = json.loads(text("tests.json"))
    except (yaml.YAMLError, ValueError) as exc:
        raise TaskError(f"{path} is not a readable SWE-bench task ({type(exc).__name__}: {exc})") from None
    if not isinstance(row, dict) or not isinstance(tests, dict):
        raise TaskError(f"{path}: task.yaml and tests.json must each hold a mapping")
    row.setdefault("instance_id", path.name)
    row.update({column: text(name) for column, name in _REPO_TASK_FILES.items()})
    row.update({key: tests.get(key, []) for key in ("FAIL_TO_PASS", "PASS_TO_PASS")})
    task = _task_from(row, str(path / "task.yaml"), workdir="/testbed", path=path, row=row, env_setup=TESTBED_SETUP)
    task.image = task.image or swebench_image(task.instance_id)
    task.gold_patch = task.gold_patch or row["patch"] or None
    return task


BUNDLED = "bundled"
"""The name that stands for the folder of every bundled task (where no path has that name)."""


def bundled_tasks() -> dict[str, Path]:
    """The task directories that ship with trajscope, by name (``trajscope tasks`` lists them)."""
    from trajscope.demo_data import task_dirs

    return {p.name: p for p in task_dirs()}


def task_path(spec: str | Path) -> Path:
    """The path a task argument names: a path that exists wins, else a bundled task's name, so a
    person installed from a wheel never needs to know where the bundled tasks are."""
    path = Path(spec)
    if path.exists() or path.is_symlink():
        return path
    if str(spec) == BUNDLED:
        from trajscope.demo_data import TASKS

        return TASKS
    found = bundled_tasks().get(str(spec))
    if found is not None:
        return found
    raise TaskError(f"{spec} does not exist, and no bundled task has that name (`trajscope tasks` lists them)")


def load_tasks(spec: str | Path) -> list[Task]:
    """Every task ``spec`` holds: a task directory or its ``task.json``, a folder of task
    directories (``bundled``: the bundled ones), every instance of a SWE-bench file, every task
    of a SWE-bench task repository, or a bundled task's name. TaskError when it holds none."""
    path = task_path(spec)
    if not path.is_dir() or (path / "task.json").is_file() or is_repo_task(path):
        return load_swebench(path) if path.is_file() and path.name != "task.json" else [load_task(path)]
    inner = path / "tasks" if (path / "tasks").is_dir() else path  # a task repository, or a folder of tasks
    tasks = [
        load_repo_task(d) if is_repo_task(d) else load_task_dir(d)
        for d in sorted(inner.iterdir())
        if is_repo_task(d) or (d / "task.json").is_file()
    ]
    if not tasks:
        raise TaskError(f"{path} holds no task (a task directory has a task.json; a SWE-bench task, a task.yaml)")
    return tasks


def _check_instance(task: Task, instance_id: str | None) -> Task:
    """A single task named with another instance is that instance's absence, not a stand-in."""
    if instance_id is not None and task.instance_id != instance_id:
        raise TaskError(f"{task.path} is the task {task.instance_id}, not {instance_id}")
    return task


def load_task(spec: str | Path, instance_id: str | None = None) -> Task:
    """A task directory (or its ``task.json``), a bundled task's name, one instance of a SWE-bench
    file, or one task of a SWE-bench task repository (its ``tasks/<id>/`` directory, or the
    repository with ``instance_id``). A single task given with another ``instance_id`` is a TaskError."""
    spec = task_path(spec)
    if spec.name == "task.json" and spec.is_file() and (spec.parent / "repo").is_dir():
        spec = spec.parent  # the file of a task directory: its code is beside it, not in an image
    if spec.is_dir() and is_repo_task(spec):
        return _check_instance(load_repo_task(spec), instance_id)
    if spec.is_dir() and (spec / "tasks").is_dir() and not (spec / "task.json").is_file():
        if instance_id is None:
            count = sum(1 for d in (spec / "tasks").iterdir() if is_repo_task(d))
            raise TaskError(f"{spec} is a SWE-bench task repository with {count} tasks; name one with --instance")
        if "/" in instance_id or instance_id in (".", "..") or not is_repo_task(spec / "tasks" / instance_id):
            raise TaskError(f"{spec} has no task {instance_id} (no tasks/{instance_id}/task.yaml)")
        return load_repo_task(spec / "tasks" / instance_id)
    if spec.is_dir():
        return _check_instance(load_task_dir(spec), instance_id)
    tasks = load_swebench(spec, instance_id)
    if len(tasks) > 1:
        raise TaskError(f"{spec} holds {len(tasks)} instances; name one with --instance")
    return tasks[0]
