"""Rubric flags by an LLM judge (optional, ``trajscope analyze --judge MODEL``): the rubric text,
the trajectory, and one JSON verdict with a short rationale per flag."""

from __future__ import annotations

import json
import re
from pathlib import Path
from string import Template

from trajscope.engine.analysis.flags import FLAGS, Flag
from trajscope.engine.prm.features import clip
from trajscope.engine.tree import ROOT, Tree

RUBRIC = Template((Path(__file__).parent / "prompts" / "flags.md").read_text(encoding="utf-8"))
_JSON = re.compile(r"\{.*\}", re.DOTALL)
OBSERVATION_CHARS = 300


def prompt_for(tree: Tree, leaf: str) -> str:
    lines = []
    for i, node in enumerate((n for n in tree.path(leaf) if n.id != ROOT), 1):
        action = str((node.action or {}).get("raw") or node.kind)
        seen = clip(node.observation or "", OBSERVATION_CHARS // 2, OBSERVATION_CHARS // 2).replace("\n", " ")
        lines.append(f"{i}. [#{node.id}] {action[:300]}\n   exit {node.exit_code}: {seen}")
    issue = str((tree.task or {}).get("problem_statement") or tree.title)[:3000]
    return RUBRIC.safe_substitute(issue=issue, trace="\n".join(lines))


def parse_flags(text: str) -> tuple[list[Flag], str | None]:
    """The flags marked present, and an error when the answer cannot be read."""
    found = _JSON.search(text or "")
    if not found:
        return [], f"judge answer unreadable: {(text or '').strip()[:120]!r}"
    try:
        data = json.loads(found.group(0))
    except ValueError:
        return [], f"judge answer is not valid JSON: {found.group(0)[:120]!r}"
    flags = []
    for name in FLAGS:
        verdict = data.get(name) if isinstance(data, dict) else None
        if isinstance(verdict, dict) and verdict.get("present") in (True, "true", "yes"):
            flags.append(Flag(name, [], str(verdict.get("rationale") or "").strip()[:300]))
    return flags, None


def judge_flags(policy, tree: Tree, leaf: str) -> tuple[list[Flag], str | None]:
    """Ask ``policy`` (an LLMPolicy) to tag the trajectory ending at ``leaf``; never raises."""
    try:
        return parse_flags(policy.ask(prompt_for(tree, leaf)))
    except Exception as exc:  # a judge that fails leaves the detectors' flags in place
        return [], f"judge failed: {str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__}"
