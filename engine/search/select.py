"""Selecting the patch to submit from a searched tree (DESIGN section 5).

Filter (submitted, non-empty, applied), de-duplicate normalised patches, then
rank by PRM score; ties go to the shorter trajectory. Selection never looks at
the hidden tests' verdict: that is what it is judged against.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.tree import Tree

_INDEX = re.compile(r"^index [0-9a-f]+\.\.[0-9a-f]+.*$", re.MULTILINE)
_HUNK = re.compile(r"^@@ [^@]* @@.*$", re.MULTILINE)


def normalise(patch: str) -> str:
    """A patch without index lines, hunk positions or trailing whitespace: equal fixes compare equal."""
    text = _HUNK.sub("@@", _INDEX.sub("", patch or ""))
    return "\n".join(line.rstrip() for line in text.splitlines() if line.strip())


@dataclass
class Candidate:
    node: str
    patch: str
    depth: int
    score: float | None
    duplicates: list[str]


def candidates(tree: Tree) -> list[Candidate]:
    """Submitted nodes with a non-empty patch that applied, one per distinct patch (the shallowest)."""
    by_patch: dict[str, Candidate] = {}
    for node in sorted(tree.nodes.values(), key=lambda n: (n.depth, n.id)):
        if node.status != "submitted" or not (node.patch or "").strip():
            continue
        if "does not apply" in str((node.verified or {}).get("error") or ""):
            continue
        key = normalise(node.patch)
        if key in by_patch:
            by_patch[key].duplicates.append(node.id)
            best = by_patch[key]
            if node.score is not None and (best.score is None or node.score > best.score):
                best.score = node.score
            continue
        by_patch[key] = Candidate(node.id, node.patch, node.depth, node.score, [])
    return list(by_patch.values())


def path_score(tree: Tree, node_id: str) -> float:
    """The PRM's view of a whole path: the mean of its last three scored steps."""
    scores = [n.score for n in tree.path(node_id) if n.score is not None][-3:]
    return sum(scores) / len(scores) if scores else 0.5


def select_prm(tree: Tree) -> tuple[str | None, list[Candidate]]:
    pool = candidates(tree)
    if not pool:
        return None, pool
    best = max(pool, key=lambda c: (round(path_score(tree, c.node), 6), -c.depth))
    return best.node, pool
