"""The resample prompt: what a model reads when it draws alternatives to a node, under any
strategy (DARS's expansions, a person's re-sample).

It holds the old action verbatim, what followed it (later actions and cut observations,
the final patch, and whether it was submitted), what sibling branches did with their
scores, and the instruction to replace, not continue: what DARS's own lookahead gives. It
never says what the hidden tests (the grader) made of a submission, nor names them: no
agent has them in a real evaluation. Only ``oracle`` (``--oracle``, a user's explicit
choice) adds their verdict. ``Strategy.expansion_prompt`` uses it; a strategy may write
its own.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from string import Template

from trajscope.engine.actions import short_action
from trajscope.engine.sandbox.base import cap_output
from trajscope.engine.tree import ROOT, Tree

PROMPTS = Path(__file__).with_name("prompts")


@cache
def template(name: str) -> Template:
    """The prompt ``prompts/<name>.md``."""
    return Template((PROMPTS / f"{name}.md").read_text(encoding="utf-8").strip())


def _outcome_of(tree: Tree, node_id: str, oracle: bool = False) -> tuple[list, str]:
    """The nodes that followed ``node_id`` on its first branch, and how that branch ended."""
    followed, current = [], node_id
    while tree.children(current):
        current = tree.children(current)[0]
        followed.append(tree.nodes[current])
    last = tree.nodes[current]
    # the step itself says it submitted (its verification may still be running, or may have
    # failed): what the agent did, never what the grader made of it
    if last.kind == "submit" and last.exit_code is not None:
        patch, _ = cap_output(tree.patch_at(last.id), 3000)
        said = f"The final patch of that attempt:\n<patch>\n{patch}\n</patch>\nIt was submitted."
        return followed, said + (" " + _verdict(last.verified) if oracle and last.verified else "")
    return followed, f"That attempt ended without a submission ({last.status})."


def _verdict(verified: dict) -> str:
    """The hidden tests' verdict, for ``--oracle`` only."""
    failed = verified.get("failed") or []
    return (
        "The tests passed."
        if verified.get("resolved")
        else f"These tests failed: {', '.join(failed[:8]) or 'unknown'}."
    )


def resample_prompt(tree: Tree, node_id: str, oracle: bool = False) -> str:
    """The prompt that draws alternatives to ``node_id``; ``oracle``: the hidden tests' verdict too."""
    node = tree.nodes[node_id]
    followed, outcome = _outcome_of(tree, node_id, oracle)
    lines = []
    for n in followed[:12]:
        obs, _ = cap_output(n.observation or "", 600)
        lines.append(f"- {short_action(n.action, 200)} (exit {n.exit_code})\n{obs}")
    siblings = []
    for sib in tree.children(node.parent or ROOT):
        if sib == node_id:
            continue
        s = tree.nodes[sib]
        score = f"{s.score:.2f}" if s.score is not None else "unscored"
        siblings.append(f"- {short_action(s.action, 200)} (score {score}, {s.status})")
    sibling_text = ("Other attempts from this point did:\n" + "\n".join(siblings)) if siblings else ""
    own_obs, _ = cap_output(node.observation or "", 1500)
    return template("resample").safe_substitute(
        old_action=f"{(node.action or {}).get('raw') or short_action(node.action, 400)}\n(it showed: {own_obs})",
        followed="\n".join(lines) or "(nothing: it was the last step)",
        outcome=outcome,
        siblings=sibling_text,
    )
