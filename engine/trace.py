"""A path as the parts above the tree see it: the steps from the task to a node, and the
size of a patch. Policies, scorers, analysis, importers and the search all read paths
through here, so none of them depends on another for it (docs/architecture.md section 1)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from trajscope.engine.actions import Action
from trajscope.engine.tree import ROOT, Tree

_DIFF_FILE = re.compile(r"^diff --git ", re.MULTILINE)


@dataclass(slots=True)
class Step:
    """One turn of the path so far, as a policy sees it."""

    action: Action
    thought: str = ""
    observation: str = ""
    exit_code: int | None = None


def path_steps(tree: Tree, node_id: str | None) -> list[Step]:
    """The path from the task to ``node_id`` as a policy sees it."""
    if node_id is None or node_id == ROOT:
        return []
    return [
        Step(Action.from_dict(n.action or {}), n.thought, n.observation, n.exit_code)
        for n in tree.path(node_id)
        if n.id != ROOT
    ]


def diff_stat(patch: str | None) -> str:
    """``N files, +A -D`` for a unified diff; "" when it is not one (or empty)."""
    if not patch or "\n+++ " not in patch and not patch.startswith("+++ "):
        return ""
    files = len(_DIFF_FILE.findall(patch)) or 1
    added = removed = 0
    for line in patch.splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    return f"{files} file{'s' if files != 1 else ''}, +{added} -{removed}"
