"""One step of a search: propose (one or m candidates), record, score, prune, execute.

Shared by every strategy. Pruned candidates stay in the tree as nodes with their
scores (docs/architecture.md section 5, PRM pruning), never executed.
"""

from __future__ import annotations

from trajscope.engine.actions import Action
from trajscope.engine.policy.base import Context, PolicyError, Proposal
from trajscope.engine.prm.base import contexts, evaluate
from trajscope.engine.search.recorder import execute_node
from trajscope.engine.search.strategy import Job
from trajscope.engine.trace import path_steps
from trajscope.engine.tree import ROOT


def same_action(a: dict | None, b: dict | None) -> bool:
    """Two actions that do the same thing (whitespace at the ends of text arguments ignored)."""
    if not a or not b or a.get("tool") != b.get("tool"):
        return False
    norm = lambda args: {k: v.strip() if isinstance(v, str) else v for k, v in (args or {}).items()}  # noqa: E731
    return norm(a.get("args")) == norm(b.get("args"))


def context_for(session, parent: str, hint: str | None = None, instructions: str | None = None) -> Context:
    prefix = getattr(session, "prefix", None)
    with session.recorder.reading() as tree:
        steps = path_steps(tree, parent)
        recorded = prefix.transcript_for(tree.path(parent)) if prefix is not None and parent != ROOT else None
    transcript, covered = recorded or (None, 0)
    return Context(
        session.task,
        steps,
        hint=hint,
        instructions=instructions,
        seed=session.seed,
        transcript=transcript,
        covered=covered,
    )


def propose(
    session, parent: str, n: int, temperature: float | None, hint: str | None = None, instructions: str | None = None
) -> list[Proposal] | None:
    """``n`` proposals at ``parent``; on PolicyError a failed node records the reason and None returns."""
    try:
        return session.policy.propose(context_for(session, parent, hint, instructions), n, temperature)
    except PolicyError as exc:
        node_id = session.recorder.new_id()
        session.emit(
            "node_added", id=node_id, parent=None if parent == ROOT else parent, action=None, proposer="policy"
        )
        session.emit("node_status", id=node_id, status="failed", by="engine", reason=str(exc))
        return None


def add(session, parent: str, proposal: Proposal, **extra) -> str:
    node_id = session.recorder.new_id()
    session.emit(
        "node_added", id=node_id, parent=None if parent == ROOT else parent, **proposal.event_fields(), **extra
    )
    return node_id


def score(session, node_ids: list[str]) -> dict[str, float]:
    """Score nodes with every scorer of the session; returns the mean score per node."""
    if not session.scorers or not node_ids:
        return {}
    with session.recorder.reading() as tree:
        ctxs = contexts(tree, node_ids)
    totals = {n: [] for n in node_ids}
    for scorer in session.scorers:
        for node_id, (value, rationale) in zip(node_ids, evaluate(scorer, ctxs)):
            fields = {"rationale": rationale} if rationale else {}
            session.emit("node_scored", id=node_id, scorer=scorer.name, score=round(value, 6), **fields)
            totals[node_id].append(value)
    return {n: sum(v) / len(v) for n, v in totals.items()}


def run_node(session, box, node_id: str) -> bool:
    """Execute a recorded node in ``box`` (moved to its parent's state first); False if it failed."""
    from trajscope.engine.sandbox.base import SandboxError

    node = session.tree.nodes[node_id]
    try:
        session.move_to(box, node.parent)
    except SandboxError as exc:
        session.emit("node_status", id=node_id, status="failed", by="engine", reason=f"sandbox: {exc}")
        session.box_at.pop(box, None)  # its state is unknown now
        return False
    ref = execute_node(
        session.recorder,
        box,
        node_id,
        Action.from_dict(node.action),
        session.state_of(node.parent),
        session.config.timeout,
    )
    if ref is None:
        session.box_at.pop(box, None)  # its state is unknown now
        return False
    session.box_at[box] = node_id
    session.refs[node_id] = ref
    score(session, [node_id])
    return True


def step(session, box, parent: str, instructions: str | None = None) -> list[str]:
    """One step below ``parent``: the executed children (several when PRM pruning keeps b > 1)."""
    cfg = session.config
    m = cfg.prune_m if session.strategy.prune else 1
    with session.reserve(m) as ok:
        if not ok:
            return []
        proposals = propose(session, parent, m, cfg.expand_temperature if m > 1 else None, instructions=instructions)
        if not proposals:
            return []
        ids = [add(session, parent, p) for p in proposals]
    if m > 1:
        scores = score(session, ids)
        kept: list[str] = []
        for node_id in sorted(ids, key=lambda n: -scores.get(n, 0.5)):
            action = session.tree.nodes[node_id].action
            duplicate = next((k for k in kept if same_action(session.tree.nodes[k].action, action)), None)
            if duplicate is None and len(kept) < cfg.prune_b:
                kept.append(node_id)
                continue
            best = scores.get(kept[0], 0.5) if kept else 0.5
            reason = (
                f"the same action as {duplicate}"
                if duplicate
                else f"PRM {scores.get(node_id, 0.5):.2f}, below the kept {best:.2f}"
            )
            session.emit("node_status", id=node_id, status="pruned", by="engine", reason=reason)
        ids = [n for n in ids if n in kept]
    return [n for n in ids if run_node(session, box, n)]


def pick_up(session) -> None:
    """After a crash: steps that never finished are marked failed; unfinished rollouts go on."""
    tree = session.tree
    for node in list(tree.nodes.values()):
        if node.id != ROOT and node.status in ("pending", "running") and node.exit_code is None:
            session.emit(
                "node_status",
                id=node.id,
                status="failed",
                by="engine",
                reason="the search stopped before this step finished",
            )
    # what this resume runs with (the next resume reads it, not the first run_started's)
    spec = {"spec": session.meta["spec"]} if "spec" in session.meta else {}
    session.emit("command", name="resume_search", by="engine", nodes=len(tree), **({"config": spec} if spec else {}))
    # A submission whose step ran but whose verdict never came: verify it now (it runs
    # past the budget, as what a person asked for does: the step was already paid for).
    for node in list(tree.nodes.values()):
        if node.kind == "submit" and node.status == "done" and node.verified is None:
            session.push(Job("submit", node.id, priority=0, by="resume"))
    for leaf in tree.leaves():
        node = tree.nodes[leaf]
        if node.status == "done" and node.kind != "submit" and node.depth < session.config.max_depth:
            session.push(Job("rollout", leaf))
