"""The resample prompt: what a model reads when it draws alternatives to a node, under any
strategy (DARS's expansions, a person's re-sample).

It holds the old action verbatim, what followed it (later actions and cut observations,
the final patch and how it ended), what sibling branches did with their scores, and the
instruction to replace, not continue. ``Strategy.expansion_prompt`` uses it; a strategy
may write its own.
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


def _outcome_of(tree: Tree, node_id: str) -> tuple[list, str]:
    """The nodes that followed ``node_id`` on its first branch, and how that branch ended."""
    followed, current = [], node_id
    while tree.children(current):
        current = tree.children(current)[0]
        followed.append(tree.nodes[current])
    last = tree.nodes[current]
    if last.status == "submitted" or last.verified:
        verified = last.verified or {}
        failed = verified.get("failed") or []
        verdict = ("It was submitted and the tests passed." if verified.get("resolved") else
                   f"It was submitted, and these tests failed: {', '.join(failed[:8]) or 'unknown'}.")
        patch, _ = cap_output(last.patch or "", 3000)
        return followed, f"The final patch of that attempt:\n<patch>\n{patch}\n</patch>\n{verdict}"
    return followed, f"That attempt ended without a submission ({last.status})."


def resample_prompt(tree: Tree, node_id: str) -> str:
    node = tree.nodes[node_id]
    followed, outcome = _outcome_of(tree, node_id)
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
        followed="\n".join(lines) or "(nothing: it was the last step)", outcome=outcome, siblings=sibling_text)
