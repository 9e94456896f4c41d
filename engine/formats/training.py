"""Training data from a curated tree (docs/architecture.md section 7): SFT, preference pairs, DAgger records.

Every record's state is the chat a policy would have been sent at that point (the same
prompts ``LLMPolicy`` uses, with native tool calls), so a record trains exactly the
decision it describes. Actions are OpenAI-style assistant messages with one tool call.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

from trajscope.engine.actions import Action
from trajscope.engine.policy.base import Context
from trajscope.engine.trace import path_steps
from trajscope.engine.tree import ROOT, Tree


def _task(tree: Tree) -> SimpleNamespace:
    task = tree.task or {}
    return SimpleNamespace(
        instance_id=tree.title,
        repo=task.get("repo", ""),
        workdir=task.get("workdir", "/repo"),
        problem_statement=task.get("problem_statement", ""),
    )


def _policy():
    from trajscope.engine.policy.llm import LLMPolicy

    return LLMPolicy("openai/export", tool_mode="tools")  # only its prompts are used; nothing is called


def state_messages(tree: Tree, node_id: str | None, policy=None) -> list[dict]:
    """The chat a policy sees after ``node_id`` ran (the task alone for the root or None)."""
    return (policy or _policy()).messages(Context(_task(tree), path_steps(tree, node_id)))


def action_message(action: dict, thought: str = "", call_id: str = "call_0") -> dict:
    parsed = Action.from_dict(action)
    return {
        "role": "assistant",
        "content": thought or None,
        "tool_calls": [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": parsed.tool, "arguments": json.dumps(parsed.args, ensure_ascii=False)},
            }
        ],
    }


def _resolved(tree: Tree, node_id: str) -> bool:
    node = tree.nodes[node_id]
    return node.status == "submitted" and bool((node.verified or {}).get("resolved"))


def sft(tree: Tree) -> list[dict]:
    """The shortest verified-successful path as one chat (SWE-TRACE's preference), or nothing."""
    winners = [n for n in tree.nodes if n != ROOT and _resolved(tree, n)]
    if not winners:
        return []
    best = min(winners, key=lambda n: (tree.nodes[n].depth, -(tree.nodes[n].score or 0.0)))
    messages = state_messages(tree, best)
    return [
        {
            "instance_id": tree.title,
            "node": best,
            "steps": tree.nodes[best].depth,
            "messages": messages,
            "patch": tree.nodes[best].patch or "",
        }
    ]


def _outcomes(tree: Tree) -> dict[str, set[bool]]:
    """For each node, the verified outcomes of the submissions below it."""
    below: dict[str, set[bool]] = {n: set() for n in tree.nodes}
    for node_id, node in tree.nodes.items():
        if node.status == "submitted" and node.verified is not None:
            ok = bool(node.verified.get("resolved"))
            below[node_id].add(ok)
            for ancestor in tree.path(node_id)[:-1]:
                below[ancestor.id].add(ok)
            below[ROOT].add(ok)
    return below


def dpo(tree: Tree) -> list[dict]:
    """Preference pairs between siblings: a person's promoted over pruned, and a child whose
    branch only resolved over one whose branch only failed (shared prefix = the parent)."""
    pairs: list[dict] = []
    outcomes = _outcomes(tree)
    policy = _policy()
    for parent in tree.nodes:
        children = [c for c in tree.children(parent) if tree.nodes[c].action]
        if len(children) < 2:
            continue
        promoted = [c for c in children if tree.nodes[c].status == "promoted" and tree.nodes[c].status_by == "human"]
        pruned = [c for c in children if tree.nodes[c].status == "pruned" and tree.nodes[c].status_by == "human"]
        good = [c for c in children if outcomes[c] == {True}]
        bad = [c for c in children if outcomes[c] == {False}]
        found = [(a, b, "human: promoted over pruned") for a in promoted for b in pruned]
        found += [
            (a, b, "outcome: resolved over failed")
            for a in good
            for b in bad
            if (a, b) not in {(x, y) for x, y, _ in found}
        ]
        if not found:
            continue
        prompt = state_messages(tree, None if parent == ROOT else parent, policy)
        for chosen, rejected, source in found:
            pairs.append(
                {
                    "instance_id": tree.title,
                    "parent": parent,
                    "source": source,
                    "prompt": prompt,
                    "chosen_node": chosen,
                    "rejected_node": rejected,
                    "chosen": action_message(tree.nodes[chosen].action, tree.nodes[chosen].thought),
                    "rejected": action_message(tree.nodes[rejected].action, tree.nodes[rejected].thought),
                }
            )
    return pairs


def dagger(tree: Tree) -> list[dict]:
    """(state, teacher action) for every node that carries a teacher label: the mixture
    policy's teacher, or a person's edit."""
    records = []
    policy = _policy()
    for node_id, node in tree.nodes.items():
        label = node.extra.get("teacher_action")
        if node_id == ROOT or not isinstance(label, dict) or not label.get("tool"):
            continue
        parent = node.parent if node.parent not in (None, ROOT) else None
        student = tree.nodes.get(node.extra.get("edited_from") or node_id) or node  # an edit replaced that one
        records.append(
            {
                "instance_id": tree.title,
                "node": node_id,
                "by": label.get("by") or "teacher",
                "state": state_messages(tree, parent, policy),
                "student_action": action_message(student.action, student.thought) if student.action else None,
                "teacher_action": action_message(label, label.get("thought") or ""),
            }
        )
    return records
