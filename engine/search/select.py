"""Selecting the patch to submit from a searched tree (docs/architecture.md section 5).

Filter (submitted, non-empty), de-duplicate normalised patches, then rank: by the
agent's own checks (``select_tests``: engine/search/checks.py runs them), by PRM score,
by an LLM judge, or by tournament voting; ties go to the shorter trajectory. Selection never looks at the hidden tests'
verdict: that is what it is judged against. A submitted patch applies by construction
(it is the diff of the node's own state from the task's base, taken in its sandbox),
so nothing the grader said is needed to keep it. Only ``oracle`` (``--oracle``, the
user's explicit choice) drops the patches the grader's run could not apply.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

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
    facts: dict = field(default_factory=dict)  # what a selector knew of it and why it chose as it did
    # The member whose submission was verified (the representative when it was): the patch's
    # verdict. Ranking never reads it, so which patch is chosen cannot depend on a verdict.
    verdict_node: str | None = None

    def to_json(self) -> dict:
        return {"node": self.node, "duplicates": self.duplicates, "verdict_node": self.verdict_node, **self.facts}


SELECTORS = {
    "tests": "the agent's own checks: reproduction tests passed, then visible tests not broken, then "
    "behaviour-cluster size, then the judge (when one is given), then the PRM",
    "prm": "the PRM's mean score over a path's last three steps",
    "judge": "one LLM judge's pick (the PRM when it gives no usable answer)",
    "rtv": "recursive tournament voting by an LLM judge",
}
"""The selectors by name, and what each ranks by (``--select``'s choices and help)."""


def candidates(tree: Tree, oracle: bool = False) -> list[Candidate]:
    """Submitted nodes with a non-empty patch, one per distinct patch (the shallowest ranks
    it; ``verdict_node`` is the one whose verdict it has, when any has one); ``oracle``: without those the hidden tests' run could not apply."""
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
    for c in by_patch.values():  # an imported submission is never verified; a live twin of it may be
        c.verdict_node = next((n for n in [c.node, *c.duplicates] if tree.nodes[n].verified is not None), None)
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


# --- the agent's own checks (engine/search/checks.py records them) --------------------------


def select_recorded(tree: Tree) -> tuple[str | None, list[Candidate]]:
    """The selection a run log can repeat without a model (exports): by the agent's own checks
    when the log holds them (``select tests``, the judge not asked), else by the PRM."""
    return select_tests(tree) if tree.checks else select_prm(tree)


def patch_key(patch: str) -> str:
    """The cache key of a candidate's checks: a digest of its normalised patch."""
    import hashlib

    return hashlib.sha256(normalise(patch).encode()).hexdigest()[:16]


def kept_tests(tree: Tree) -> list[str]:
    """The reproduction tests kept (they fail on the base state), by id."""
    return [str(t.get("id")) for t in (tree.checks.get("tests") or []) if t.get("kept")]


def facts_of(tree: Tree, node_id: str) -> dict:
    """The checks of the candidate at ``node_id`` (its own, or those of an equal patch); {} if none."""
    node = tree.nodes.get(node_id)
    if node is None:
        return {}
    found = node.extra.get("checks")
    if found is None and node.patch:
        found = tree.checked.get(patch_key(node.patch))
    return found or {}


def _agree(a: dict, b: dict) -> bool:
    """Two candidates behave alike: the commands both re-ran (one at least) gave the same outputs."""
    common = a.keys() & b.keys()
    return bool(common) and all(a[c] == b[c] for c in common)


def select_tests(tree: Tree, judge=None, oracle: bool = False) -> tuple[str | None, list[Candidate]]:
    """Rank by reproduction tests passed, then visible tests not broken, then the size of the
    candidate's behaviour cluster, then (among those still tied, when ``judge`` is given) the
    judge's pick, then the PRM, then the shorter trajectory. Each candidate's ``facts`` say
    what it scored and the chosen one's say why."""
    pool = candidates(tree, oracle)
    if not pool:
        return None, pool
    kept = kept_tests(tree)
    behaviour = {}
    for c in pool:
        facts = facts_of(tree, c.node)
        behaviour[c.node] = {str(x.get("command")): x.get("digest") for x in facts.get("commands") or []}
        repro = facts.get("repro") if isinstance(facts.get("repro"), dict) else {}
        c.facts = {
            "checked": bool(facts),
            "tests_passed": [t for t in kept if repro.get(t) is True],
            "tests_kept": len(kept),
            "regressions": list(facts.get("regressions") or []),
            "n_regressions": facts.get("n_regressions") if facts else None,
            "prm": round(path_score(tree, c.node), 4),
        }
    for c in pool:
        c.facts["cluster"] = sum(1 for d in pool if d is c or _agree(behaviour[c.node], behaviour[d.node]))

    def key(c: Candidate) -> tuple:
        broken = c.facts["n_regressions"]
        return (len(c.facts["tests_passed"]), -(broken if isinstance(broken, int) else 10**9), c.facts["cluster"])

    def order(c: Candidate) -> tuple:
        return (*key(c), c.facts["prm"], -c.depth)

    ranked = sorted(pool, key=order, reverse=True)
    top = [c for c in ranked if key(c) == key(ranked[0])]
    judged = None
    if judge is not None and len(top) > 1:
        issue = str(tree.task.get("problem_statement") or "")
        pick = judge(issue, [(tree.nodes[c.node].summary or summarize(tree, c.node), c.patch) for c in top])
        judged = top[pick] if pick is not None else None
    best = judged or ranked[0]
    for c in pool:
        c.facts["chosen"] = c is best
    best.facts["why"] = _why(best, ranked, judged is not None, key)
    return best.node, pool


def _why(best: Candidate, pool: list[Candidate], judged: bool, key) -> str:
    """Why ``best`` was chosen: for each other candidate, the first rank it lost on."""
    f = best.facts
    broken = f["n_regressions"]
    said = (
        f"it passes {len(f['tests_passed'])} of {f['tests_kept']} reproduction tests, "
        + ("was not checked" if broken is None else f"breaks {broken or 'no'} visible test(s)")
        + f", and {f['cluster']} candidate(s) behave as it does"
    )
    reasons = (
        "it passes more reproduction tests than",
        "it breaks fewer visible tests than",
        "more candidates behave as it does than as",
        "the judge preferred it to",
        "the PRM scores it higher than",
        "its trajectory is shorter than",
    )
    lost: dict[str, list[str]] = {}
    for other in pool:
        if other is best:
            continue
        mine, theirs = key(best), key(other)
        rank = next((i for i in range(3) if mine[i] != theirs[i]), 3 if judged else None)
        if rank is None:
            rank = 4 if f["prm"] != other.facts["prm"] else 5
        lost.setdefault(reasons[rank], []).append(f"#{other.node}")
    if not lost:
        return f"the only candidate; {said}"
    return (
        "; ".join(f"{r} {', '.join(nodes)}" for r, nodes in sorted(lost.items(), key=lambda x: reasons.index(x[0])))
        + f"; {said}"
    )
