"""What a worker does with each kind of job (docs/architecture.md section 5).

``HANDLERS`` maps a job's kind to a function ``(session, job, box)``: ``rollout``
steps below a node until a submit, the depth limit, a pause or the budget;
``expand`` samples alternatives to a node (DARS, or a person's re-sample) with the
strategy's ``expansion_prompt`` and keeps the one its ``choose`` picks (a person
keeps all); ``edit`` runs a person's action in
place of a node's; ``submit`` verifies the patch at a node (and, with ``checks``, runs the
agent's own checks on it: engine/search/checks.py). A sandbox failure
raises to the Session, which stops the search.
"""

from __future__ import annotations

from trajscope.engine.actions import Action
from trajscope.engine.policy.base import Proposal
from trajscope.engine.search import steps
from trajscope.engine.search.checks import check_candidate
from trajscope.engine.search.recorder import record_submission
from trajscope.engine.search.strategy import Job
from trajscope.engine.tree import ROOT


def verify_submission(session, node_id: str, patch: str) -> None:
    """Verify ``patch`` with the hidden tests; ``session.verifying`` shows the phase meanwhile."""
    session.verifying[node_id] = "queued"
    try:
        record_submission(
            session.task,
            session.recorder,
            node_id,
            patch,
            session.sandbox_kind,
            timeout=max(600.0, session.config.timeout),
            progress=lambda phase: session.verifying.__setitem__(node_id, phase),
        )
    finally:
        session.verifying.pop(node_id, None)


def after_execute(session, box, node_id: str) -> bool:
    """Submit when the node submitted; True when the rollout may go on from it."""
    node = session.tree.nodes[node_id]
    if node.kind == "submit":
        from trajscope.engine.search.select import summarize

        patch = box.diff()
        verify_submission(session, node_id, patch)
        check_candidate(session, box, node_id, patch)
        with session.recorder.reading() as tree:
            summary = summarize(tree, node_id)
        session.emit("summary_written", id=node_id, summary=summary)
        return False
    return node.depth < session.config.max_depth


def rollout(session, job: Job, box) -> None:
    if job.delay and session.stopped(job.delay):
        return
    parent = job.node
    while parent == ROOT or session.may_continue(parent, job.instructions):
        children = steps.step(session, box, parent, job.instructions)
        if not children:
            return
        for extra in children[1:]:  # PRM pruning may keep several: each goes on in its own job
            if after_execute(session, box, extra):
                session.push(Job("rollout", extra, instructions=job.instructions))
        if not after_execute(session, box, children[0]):
            return
        parent = children[0]


def expand(session, job: Job, box) -> None:
    tree = session.tree
    node = tree.nodes[job.node] if job.node != ROOT else None
    parent = ROOT if node is None else (node.parent or ROOT)
    instructions = session.strategy.expansion_prompt(tree, job.node) if node is not None else None
    adds = job.n if job.by == "human" else 1  # the critic keeps one candidate
    with session.reserve(adds, job.by) as ok:  # held until its nodes are in the tree
        if ok:
            _expand(session, job, box, node, parent, instructions)


def _expand(session, job: Job, box, node, parent: str, instructions: str | None) -> None:
    tree = session.tree
    proposals = steps.propose(session, parent, job.n, session.config.expand_temperature, job.hint, instructions)
    if not proposals:
        return
    siblings = [tree.nodes[s].action for s in tree.children(parent)]
    fresh: list[Proposal] = []
    for p in proposals:
        if not any(steps.same_action(p.action.to_dict(), a) for a in siblings + [f.action.to_dict() for f in fresh]):
            fresh.append(p)
    if not fresh:
        session.emit(
            "branch_requested",
            parent=job.node,
            n=job.n,
            hint=job.hint,
            by=job.by,
            result="every candidate repeated an existing sibling",
        )
        return
    critic = None
    if job.by == "human":
        chosen = fresh
    else:
        pick, critic = session.strategy.choose(session, parent, fresh)
        chosen = [fresh[pick]]
    others = [
        {"action": p.action.to_dict(), "thought": p.thought, "why": "the critic preferred another"}
        for p in fresh
        if p not in chosen
    ] + [
        {"action": p.action.to_dict(), "thought": p.thought, "why": "repeats an existing sibling"}
        for p in proposals
        if p not in fresh
    ]
    for p in chosen:
        extra = {"expanded_from": job.node} if node is not None else {}
        if job.by == "human":  # the node says a person asked for it, and with what hint
            extra |= {"requested_by": "human", "hint": job.hint} if job.hint else {"requested_by": "human"}
        node_id = steps.add(session, parent, p, candidates=others or None, critic=critic, **extra)
        if steps.run_node(session, box, node_id) and after_execute(session, box, node_id):
            session.push(Job("rollout", node_id, priority=job.priority))


def edit(session, job: Job, box) -> None:
    node = session.tree.nodes[job.node]
    action = Action.from_dict(job.action or {})
    label = action.to_dict() | {"by": "human"}
    proposal = Proposal(action, "", proposer="human", teacher_action=label)
    node_id = steps.add(session, node.parent or ROOT, proposal, edited_from=job.node)
    if steps.run_node(session, box, node_id) and after_execute(session, box, node_id):
        session.push(Job("rollout", node_id, priority=0))


def submit_job(session, job: Job, box) -> None:
    session.move_to(box, job.node)
    patch = box.diff()
    verify_submission(session, job.node, patch)
    check_candidate(session, box, job.node, patch)


HANDLERS = {"rollout": rollout, "expand": expand, "edit": edit, "submit": submit_job}
