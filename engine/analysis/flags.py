"""Rubric flags of a trajectory, detected from the trace alone (docs/architecture.md section 7).

After the published analysis of a DSPy coding agent's SWE-bench Lite traces, where an
LLM judge tagged each trace with rubric flags; here each flag has a deterministic
detector, and every flag names the steps that raised it.

- memory_drift: the agent works from a wrong memory of the code: an edit whose old
  text is not in the file, or re-reading a file it already read with no change between.
- overconfidence: submitting while the last check after the last edit failed, or with
  no check at all after an edit.
- strange_behaviour: the same action twice in a row, one action three times, or edits
  to the project's test files.
- self_correction: a failed check after an edit, then another edit, then a check that
  passes.
- validation: a check that passes after the last edit.
- planning: looking at the code and reproducing the issue before the first edit.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from engine.trace import Step
from engine.prm.features import has_error, is_test_run, signature, test_summary
from engine.trace import path_steps
from engine.tree import ROOT, Node, Tree

FLAGS = ("memory_drift", "overconfidence", "strange_behaviour", "self_correction", "validation", "planning")
EDITS = ("edit", "append", "create")
LOOKS = ("view", "search")
_NOT_FOUND = re.compile(r"was not found|did not appear verbatim|no replacement was performed|"
                        r"no match(es)? found for|could not find the text", re.IGNORECASE)
_READ_FILE = re.compile(r"(?:\bview|\bcat|\bnl|\bhead|\btail|sed -n \S+)\s+(?:-\S+\s+)*['\"]?([\w./-]+\.\w+)")
_ANY_FILE = re.compile(r"[\w./-]+\.\w+")
_TEST_FILE = re.compile(r"(^|/)(tests?/|test_[\w]+\.py$|[\w]+_test\.py$|conftest\.py$)")


@dataclass
class Flag:
    name: str
    steps: list[str] = field(default_factory=list)  # the nodes that raised it
    why: str = ""

    def to_json(self) -> dict:
        return {"name": self.name, "steps": self.steps, "why": self.why}


def _file(node: Node) -> str | None:
    args = (node.action or {}).get("args") or {}
    if args.get("path"):
        return str(args["path"]).lstrip("./") or None
    found = _READ_FILE.search(str(args.get("command") or (node.action or {}).get("raw") or ""))
    return found.group(1).lstrip("./") if found else None


def _edited_files(node: Node) -> set[str]:
    path = _file(node)
    if path:
        return {path}
    command = str(((node.action or {}).get("args") or {}).get("command") or (node.action or {}).get("raw") or "")
    return {m.lstrip("./") for m in _ANY_FILE.findall(command)}


def _check(node: Node, step: Step) -> bool | None:
    """True / False for a command that ran (tests or a script), None for other steps. Traces
    without exit codes (SWE-agent's) are judged by their output."""
    if node.kind != "run" or (node.exit_code is None and not node.observation):
        return None
    summary = test_summary(node.observation) if is_test_run(step) else None
    if summary is not None:
        return summary[1] == 0 and node.exit_code in (0, None)
    return node.exit_code == 0 if node.exit_code is not None else not has_error(step)


def _fixes(nodes: list[Node], edits: list[int]) -> list[int]:
    """Edits of the project, not of the scripts the agent wrote (a create, and appends right after it)."""
    created, fixes, last_script = set(), [], -2
    for i in edits:
        node, path = nodes[i], _file(nodes[i])
        if node.kind == "create" or (node.kind == "append" and last_script == i - 1) or (path and path in created):
            created.add(path)
            last_script = i
        else:
            fixes.append(i)
    return fixes


def detect(tree: Tree, leaf: str) -> list[Flag]:
    """The flags raised on the path from the task to ``leaf``."""
    nodes = [n for n in tree.path(leaf) if n.id != ROOT]
    steps = path_steps(tree, leaf)
    checks = [_check(n, s) for n, s in zip(nodes, steps)]
    edits = [i for i, n in enumerate(nodes) if n.kind in EDITS]
    flags: list[Flag] = []

    drift, read, changed_since = [], {}, set()
    for i, node in enumerate(nodes):
        path = _file(node)
        if node.kind in EDITS:
            if _NOT_FOUND.search(node.observation or ""):
                drift.append(node.id)
            changed_since |= _edited_files(node)
        elif node.kind == "view" and path:
            if path in read and path not in changed_since:
                drift.append(node.id)
            read[path] = i
            changed_since.discard(path)
    if drift:
        flags.append(Flag("memory_drift", drift, "edits of text not in the file, or files re-read unchanged"))

    if nodes and nodes[-1].kind == "submit" and edits:
        after = [(i, c) for i, c in enumerate(checks) if i > edits[-1] and c is not None]
        if not after:
            flags.append(Flag("overconfidence", [nodes[edits[-1]].id, nodes[-1].id],
                              "submitted an edit that was never run"))
        elif after[-1][1] is False:
            flags.append(Flag("overconfidence", [nodes[after[-1][0]].id, nodes[-1].id],
                              "submitted with the last check failing"))

    strange, counts = [], Counter(signature(s) for s in steps)
    for i in range(1, len(steps)):
        if signature(steps[i]) == signature(steps[i - 1]):
            strange.append(nodes[i].id)
    strange += [n.id for n, s in zip(nodes, steps) if counts[signature(s)] >= 3 and n.id not in strange]
    strange += [nodes[i].id for i in edits if _TEST_FILE.search(_file(nodes[i]) or "")]
    if strange:
        flags.append(Flag("strange_behaviour", sorted(set(strange), key=[n.id for n in nodes].index),
                          "repeated actions, loops, or edits of the project's tests"))

    fixed = None
    for i, ok in enumerate(checks):
        if ok is False and edits and i > edits[0]:
            later_edit = next((e for e in edits if e > i), None)
            passed = next((j for j in range(later_edit or len(nodes), len(nodes)) if checks[j]), None)
            if later_edit is not None and passed is not None:
                fixed = [nodes[i].id, nodes[later_edit].id, nodes[passed].id]
                break
    if fixed:
        flags.append(Flag("self_correction", fixed, "a failed check, a new edit, then a passing check"))

    if edits:
        passing = [i for i, ok in enumerate(checks) if ok and i > edits[-1]]
        if passing:
            flags.append(Flag("validation", [nodes[passing[-1]].id], "a check passes after the last edit"))
        fixes = _fixes(nodes, edits) or edits
        first = fixes[0]
        looks = [n.id for n in nodes[:first] if n.kind in LOOKS]
        runs = [nodes[i].id for i in range(first) if checks[i] is not None]
        if looks and runs:
            flags.append(Flag("planning", [looks[0], runs[0]], "read the code and reproduced the issue first"))
    return flags


def outcome(tree: Tree, leaf: str) -> str:
    """``resolved``, ``failed`` (verified, not resolved) or ``unknown``."""
    node = tree.nodes[leaf]
    verified = node.verified
    if verified is None:
        return "unknown"
    return "resolved" if verified.get("resolved") else "failed"


def trajectories(tree: Tree) -> list[str]:
    """Leaves that ran or were submitted (the candidates a search scored and never ran are left out)."""
    return [n for n in tree.nodes if n != ROOT and not tree.children(n)
            and (tree.nodes[n].exit_code is not None or tree.nodes[n].status == "submitted")]
