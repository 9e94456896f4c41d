"""Selecting the patch to submit from a searched tree (docs/architecture.md section 5).

Filter (submitted, non-empty), de-duplicate normalised patches, then rank by PRM
score; ties go to the shorter trajectory. Selection never looks at the hidden tests'
verdict: that is what it is judged against. A submitted patch applies by construction
(it is the diff of the node's own state from the task's base, taken in its sandbox),
so nothing the grader said is needed to keep it. Only ``oracle`` (``--oracle``, the
user's explicit choice) drops the patches the grader's run could not apply.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from trajscope.engine.tree import Tree

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


def candidates(tree: Tree, oracle: bool = False) -> list[Candidate]:
    """Submitted nodes with a non-empty patch, one per distinct patch (the shallowest);
    ``oracle``: without those the hidden tests' run could not apply."""
    by_patch: dict[str, Candidate] = {}
    for node in sorted(tree.nodes.values(), key=lambda n: (n.depth, n.id)):
        if node.status != "submitted" or not (node.patch or "").strip():
            continue
        if oracle and "does not apply" in str((node.verified or {}).get("error") or ""):
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


def select_prm(tree: Tree, oracle: bool = False) -> tuple[str | None, list[Candidate]]:
    pool = candidates(tree, oracle)
    if not pool:
        return None, pool
    best = max(pool, key=lambda c: (round(path_score(tree, c.node), 6), -c.depth))
    return best.node, pool


# --- summaries, an LLM judge, and recursive tournament voting (RTV) ---------------------------


def summarize(tree: Tree, node_id: str) -> str:
    """A rollout summary from its trace: the hypothesis, the progress, the failure modes."""
    from trajscope.engine.trace import Step
    from trajscope.engine.prm.features import facts

    path = tree.path(node_id)
    steps = [Step(_action(n.action), n.thought, n.observation, n.exit_code) for n in path]
    f = facts(steps)
    edits = [n for n in path if n.kind in ("edit", "append", "create")]
    hypothesis = next((n.thought for n in edits if n.thought), "") or "no stated hypothesis"
    files = sorted({str((n.action or {}).get("args", {}).get("path", "")) for n in edits} - {""})
    if f.test_after_edit is not None:
        check = f"tests after the last edit: {f.test_after_edit[0]} passed, {f.test_after_edit[1]} failed"
    elif f.check_after_edit is not None:
        check = "a check after the last edit " + ("passed" if f.check_after_edit == 0 else "failed")
    else:
        check = "nothing was run after the last edit"
    failures = [
        w
        for w, on in (
            ("repeated actions", f.repeats),
            ("errors on the way", f.errors),
            ("submitted without any change", f.submits and not f.edits),
        )
        if on
    ]
    return (
        f"Hypothesis: {hypothesis}\nProgress: {len(path)} steps, {len(edits)} edits"
        f"{' to ' + ', '.join(files) if files else ''}; {check}.\n"
        f"Failure modes: {', '.join(failures) or 'none seen'}."
    )


def _action(data):
    from trajscope.engine.actions import Action

    return Action.from_dict(data or {})


JUDGE_PROMPT = """You are choosing the best fix for this issue among candidate attempts.

<issue>
{issue}
</issue>

{options}

Which attempt most likely resolves the issue, passing the project's hidden tests?
Answer with one JSON object: {{"choice": <the attempt's number>, "reason": "<one sentence>"}}"""


def parse_choice(text: str, n: int) -> int | None:
    """The option a model chose (0-based), from a JSON ``choice`` or the first number; None if none."""
    for blob in re.findall(r"\{.*?\}", text or "", re.DOTALL):
        try:
            value = int(json.loads(blob).get("choice"))
        except (ValueError, TypeError, AttributeError):
            continue
        if 1 <= value <= n:
            return value - 1
    found = re.search(r"\b(\d+)\b", text or "")
    if found and 1 <= int(found.group(1)) <= n:
        return int(found.group(1)) - 1
    return None


class LLMJudge:
    """Picks one of several attempts (summary and patch each) by asking a model; None when unsure."""

    def __init__(self, policy):
        self.policy = policy

    def __call__(self, issue: str, attempts: list[tuple[str, str]]) -> int | None:
        options = "\n\n".join(
            f"Attempt {i + 1}:\n{summary}\n<patch>\n{patch[:3000]}\n</patch>"
            for i, (summary, patch) in enumerate(attempts)
        )
        try:
            text = self.policy.ask(JUDGE_PROMPT.format(issue=issue[:4000], options=options))
        except Exception:  # a failed vote is no vote
            return None
        return parse_choice(text, len(attempts))


def select_judge(tree: Tree, judge, oracle: bool = False) -> tuple[str | None, list[Candidate]]:
    pool = candidates(tree, oracle)
    if len(pool) <= 1:
        return (pool[0].node if pool else None), pool
    issue = str(tree.task.get("problem_statement") or "")
    choice = judge(issue, [(tree.nodes[c.node].summary or summarize(tree, c.node), c.patch) for c in pool])
    if choice is None:
        return select_prm(tree, oracle)
    return pool[choice].node, pool


def select_rtv(
    tree: Tree, judge, group: int = 3, votes: int = 3, seed: int = 0, oracle: bool = False
) -> tuple[str | None, list[Candidate]]:
    """Recursive tournament voting: small groups, several votes each in shuffled order, winners
    advance until one is left; ties (and groups with no valid vote) go to the shorter trajectory."""
    import random

    pool = candidates(tree, oracle)
    rng = random.Random(seed)
    issue = str(tree.task.get("problem_statement") or "")
    round_ = list(pool)
    while len(round_) > 1:
        rng.shuffle(round_)
        winners = []
        for start in range(0, len(round_), group):
            members = round_[start : start + group]
            tally = {c.node: 0 for c in members}
            for _ in range(votes if len(members) > 1 else 0):
                order = members[:]
                rng.shuffle(order)
                pick = judge(issue, [(tree.nodes[c.node].summary or summarize(tree, c.node), c.patch) for c in order])
                if pick is not None:
                    tally[order[pick].node] += 1
            winners.append(max(members, key=lambda c: (tally[c.node], -c.depth)))
        round_ = winners
    return (round_[0].node if round_ else None), pool
