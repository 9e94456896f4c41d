"""DARS: depth-first to a submit, then expand the shallowest pending critical node.

An expansion samples k alternatives to a critical action (edit, append, create,
submit) at temperature ~0.8 with the *resample prompt* (engine/search/resample.py)
and the identical history prefix; ``Dars.choose``, the critic, keeps one (the
PRM's pick, or the model's); duplicates of existing siblings are dropped.
Which nodes may be expanded is configuration: ``limits`` (how often a kind may
branch along one path) and ``after`` (inside a branch that began at a kind,
which kinds may branch again).

``Dars`` is the strategy: past its own limits it relaxes them round by round, then
starts fresh rollouts that read the submissions so far (distilled: summaries, patches,
PRM scores), until the budget is spent or nothing is left to do. It stops early only on
the agent's own evidence (engine/search/checks.py, when the checks are on): once a
candidate passes every kept reproduction test (one at least) and breaks no visible test.
That rule reads no verdict of the hidden tests (the grader): a search that found the fix
and one that did not make the same decisions. Only ``oracle`` (``--oracle``, the user's
explicit choice) also stops it going on once a submission was verified as resolved.
"""

from __future__ import annotations

from trajscope.engine.actions import CRITICAL_KINDS, short_action
from trajscope.engine.search.checks import settled
from trajscope.engine.search.refine import distill
from trajscope.engine.search.resample import template
from trajscope.engine.search.select import parse_choice
from trajscope.engine.search.strategy import Job, SearchView, Strategy, origin_of, rollout_heads
from trajscope.engine.trace import path_steps
from trajscope.engine.tree import ROOT, Tree

DEFAULT_LIMITS = {"edit": 1, "append": 1, "create": 1, "submit": 1}
DEFAULT_AFTER = {
    "edit": ["submit"],
    "append": ["append", "submit"],
    "create": ["edit", "append", "submit"],
    "submit": [],
}

RELAX_ROUNDS = 3
"""Rounds of relaxed limits after DARS's own (see Dars.next_phase)."""

FRESH_ROLLOUTS = 4
"""Fresh rollouts after the relaxed rounds when the search has no budget at all; with one,
they go on until it is spent."""


def _branch_heads(tree: Tree, node_id: str) -> list[str]:
    """The kinds of the expanded nodes whose branches ``node_id`` lies in (nearest last)."""
    kinds = []
    for node in tree.path(node_id):
        origin = node.extra.get("expanded_from")
        if origin and origin in tree.nodes:
            kinds.append(tree.nodes[origin].kind)
    return kinds


def expandable(tree: Tree, node_id: str, expansions: dict[str, int], limits: dict, after: dict) -> bool:
    node = tree.nodes[node_id]
    if node.kind not in CRITICAL_KINDS or node.exit_code is None or node.status in ("pruned", "failed"):
        return False
    if node.proposer == "import":  # a search from an imported step branches below it, never beside
        return False  # it (alternatives to the step) nor below the steps the run recorded after it
    if expansions.get(node_id, 0) >= limits.get(node.kind, 0):
        return False
    if any(n.status == "pruned" for n in tree.path(node_id)):
        return False
    heads = _branch_heads(tree, node_id)
    if heads and node.kind not in after.get(heads[-1], []):
        return False
    return heads.count(node.kind) < limits.get(node.kind, 0)


def next_expansion(tree: Tree, expansions: dict[str, int], limits: dict, after: dict) -> str | None:
    """The shallowest expandable critical node; nodes under a promoted one come first."""
    promoted = {n for n, node in tree.nodes.items() if node.status == "promoted"}

    def key(node_id: str):
        path = tree.path(node_id)
        under = any(n.id in promoted for n in path)
        return (not under, len(path), int(node_id[1:]) if node_id[1:].isdigit() else 0)

    candidates = [n for n in tree.nodes if n != ROOT and expandable(tree, n, expansions, limits, after)]
    return min(candidates, key=key) if candidates else None


def critic_prompt(session, parent: str, proposals) -> str:
    tree = session.tree
    path = "\n".join(f"- {short_action(n.action, 160)} (exit {n.exit_code})" for n in tree.path(parent)[-8:])
    options = "\n".join(f"{i + 1}. {p.action.raw or p.action.tool}"[:800] for i, p in enumerate(proposals))
    return template("critic").safe_substitute(
        issue=session.task.problem_statement[:3000], path=path or "(none yet)", candidates=options
    )


class Dars(Strategy):
    """Expand the shallowest expandable critical node, one at a time, ``k`` candidates each."""

    name = "dars"

    def __init__(self, config, tree: Tree, prune: bool = False) -> None:
        super().__init__(config, tree, prune)
        self.phase = "dars"
        self.relax = self.fresh = 0
        self.expansions: dict[str, int] = {}  # node -> times expanded (from the log after a resume)
        for node in tree.nodes.values():
            origin = node.extra.get("expanded_from")
            if origin:
                self.expansions[origin] = self.expansions.get(origin, 0) + 1
        self.critic_fallback_said = False  # the log says once that the policy cannot be the critic

    def choose(self, session, parent: str, proposals: list) -> tuple[int, dict]:
        """The critic: which of ``proposals`` to keep (the PRM's best, the model's choice, or the first)."""
        config = self.config
        if len(proposals) == 1 or config.critic == "first":
            return 0, {"method": "first"}
        if config.critic == "llm" and not hasattr(session.policy, "ask"):
            # said once in the log (and so in the app): the choice falls to the PRM, or the first
            if not self.critic_fallback_said:
                self.critic_fallback_said = True
                session.emit(
                    "command",
                    name="critic_fallback",
                    by="engine",
                    reason=f"the policy {session.policy.name} cannot answer the critic's question; "
                    "the PRM picks instead"
                    if session.scorers
                    else "the first candidate is taken",
                )
        elif config.critic == "llm":
            prompt = critic_prompt(session, parent, proposals)
            try:
                text = session.policy.ask(prompt)
            except Exception as exc:  # the critic is advice: on failure take the first
                return 0, {"method": "llm", "error": str(exc)}
            choice = parse_choice(text, len(proposals))
            return (choice or 0), {"method": "llm", "prompt": prompt, "response": text}
        if not session.scorers:
            return 0, {"method": "first"}
        from trajscope.engine.prm.base import StepContext, evaluate

        with session.recorder.reading():
            path = path_steps(session.tree, parent)
            patch = session.tree.patch_at(parent) if parent else ""
        ctxs = [
            StepContext(
                session.task.problem_statement, path, p.action, None, None, session.task.instance_id, p.thought, patch
            )
            for p in proposals
        ]
        scores = [s for s, _ in evaluate(session.scorers[0], ctxs)]
        best = max(range(len(scores)), key=lambda i: scores[i])
        return best, {"method": f"prm:{session.scorers[0].name}", "scores": [round(s, 4) for s in scores]}

    def next_jobs(self, search: SearchView) -> list[Job]:
        if settled(search.tree) is not None:  # the stopping rule: the agent's own checks are met
            return []
        while True:
            node = next_expansion(search.tree, self.expansions, *self.limits())
            if node is not None:
                self.expansions[node] = self.expansions.get(node, 0) + 1
                return [Job("expand", node, n=self.config.k)]
            before = (self.relax, self.fresh)
            job = self.next_phase(search)
            if job is not None:
                return [job]
            if (self.relax, self.fresh) == before:  # no phase left, or not now
                return []

    def end_reason(self, tree: Tree) -> str | None:
        done = settled(tree)
        if done is None:
            return None
        return f"{done} passes every kept reproduction test and breaks no visible test"

    def limits(self) -> tuple[dict, dict]:
        """The expansion limits of the phase: DARS's own, then relaxed round by round (each
        round allows one more expansion of each kind along a path; from the second on,
        any critical kind may branch inside any branch)."""
        cfg = self.config
        if self.relax == 0:
            return cfg.limits, cfg.after
        limits = {kind: n + self.relax for kind, n in cfg.limits.items()}
        after = cfg.after if self.relax < 2 else {kind: sorted(CRITICAL_KINDS) for kind in cfg.limits}
        return limits, after

    def may_go_on(self, search: SearchView) -> bool:
        """Whether DARS goes on past its limits: when no work is in flight and some rollout
        got past its first step (else the Session's restarts), and no candidate passes every
        kept reproduction test while breaking no visible test (the agent's own checks); the
        budget ends it otherwise (checked before any job is planned). With ``oracle`` only,
        not once a submission was verified as resolved."""
        tree = search.tree
        heads = rollout_heads(tree, origin_of(search))
        if search.busy or not any(tree.nodes[c].status != "failed" for c in heads):
            return False
        if settled(tree) is not None:
            return False
        if getattr(self.config, "oracle", False):
            return not any(tree.nodes[n].resolved for n in tree.nodes if tree.nodes[n].status == "submitted")
        return True

    def next_phase(self, search: SearchView) -> Job | None:
        """Nothing left to expand: relax the limits (RELAX_ROUNDS rounds), then start fresh
        rollouts that read what the submissions so far got wrong (until the budget is
        spent; FRESH_ROLLOUTS without a budget); a rollout job when the phase starts with
        one, else None (plan again)."""
        if not self.may_go_on(search):
            return None
        if self.relax < RELAX_ROUNDS:
            self.relax += 1
            limits, _ = self.limits()
            self.set_phase(search, f"relaxed {self.relax}/{RELAX_ROUNDS}", limits=limits)
            return None
        bounded = search.budget.bounded
        if self.fresh < FRESH_ROLLOUTS or bounded:  # a budget ends them; without one, a few
            self.fresh += 1
            tree = search.tree
            submitted = [n for n in tree.nodes if tree.nodes[n].status == "submitted"]
            note = distill(tree, submitted) if submitted else None
            self.set_phase(
                search, f"fresh rollouts ({self.fresh})" if bounded else f"fresh rollouts {self.fresh}/{FRESH_ROLLOUTS}"
            )
            return Job("rollout", origin_of(search), instructions=note)
        return None
