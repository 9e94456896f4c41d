"""``trajscope tasks``: the bundled tasks, so a person installed from a wheel can name them (every
command that takes a task takes a bundled task's name) and find their folder."""

from __future__ import annotations

import argparse
import json


def add_parser(sub) -> None:
    p = sub.add_parser("tasks", help="the bundled tasks: their names (usable wherever a task is asked for) and paths")
    p.add_argument("--json", action="store_true", help="one JSON object a task instead of the table")


def rows() -> list[dict]:
    """One row a bundled task: its name, instance, project, the issue's first line, and where it is."""
    from trajscope.engine.tasks import bundled_tasks, load_task_dir

    out = []
    for name, path in bundled_tasks().items():
        task = load_task_dir(path)
        summary = next((line.strip() for line in task.problem_statement.splitlines() if line.strip()), "")
        out.append(
            {"name": name, "instance_id": task.instance_id, "repo": task.repo, "summary": summary, "path": str(path)}
        )
    return out


def run(args: argparse.Namespace) -> int:
    from trajscope.engine.tasks import BUNDLED, task_path

    found = rows()
    if args.json:
        for row in found:
            print(json.dumps(row))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"bundled tasks ({task_path(BUNDLED)}; '{BUNDLED}' names them all)", title_justify="left")
    for column in ("name", "repo", "summary", "path"):
        table.add_column(column, overflow="fold", no_wrap=column == "name")
    for row in found:
        table.add_row(row["name"], row["repo"], row["summary"], row["path"])
    Console().print(table, highlight=False)
    return 0
