"""``trajscope prm score``: score every executed step of a run and write the run, with its
``node_scored`` events, to a NEW run log. The input (a run log, or another tool's trajectory
the caller converted) is never written: appending to it changed other tools' files."""

from __future__ import annotations

from pathlib import Path

from trajscope.engine.events import encode_events, make_event
from trajscope.engine.files import WriteError, check_target, create_unique, write_new
from trajscope.engine.prm.base import contexts, evaluate
from trajscope.engine.prm.registry import get_scorer
from trajscope.engine.tree import ROOT, Tree


def scored_name(source: Path) -> Path:
    """Where a scored copy of ``source`` goes by default: ``<name>.scored.jsonl`` beside it
    (``.scored-2.jsonl`` and on when taken)."""
    name = source.name
    for suffix in (".jsonl", ".traj.json", ".traj", ".json", ".prev.root", ".root"):
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    return source.with_name(f"{name}.scored.jsonl")


def check_out(source: Path, out: Path) -> None:
    """WriteError unless ``out`` is a new file that is not ``source`` (checked before scoring)."""
    if out.exists() and source.exists() and out.resolve() == source.resolve():
        raise WriteError(f"{out} is the input; prm score never writes its input: choose another --out")
    check_target(out)
    if out.exists():
        raise WriteError(f"{out} already exists; choose another --out")


def score_log(
    source: Path,
    events: list[dict],
    scorer_name: str = "builtin",
    out: Path | None = None,
    device: str | None = None,
    batch: int = 256,
) -> dict:
    """Score every executed node of the run ``events`` (read from ``source``) and write those
    events and the scores to ``out``, a new file (default: ``scored_name(source)``)."""
    if out is not None:
        check_out(source, out)
    scorer = get_scorer(scorer_name, device=device)
    tree = Tree.fold(events)
    executed = {e.get("id") for e in events if e.get("type") == "node_executed"}  # imports have no exit codes
    ids = [n for n in tree.preorder() if n != ROOT and n in executed]
    # an imported step records no exit code: scorers read what it printed instead (prm/features.py)
    without_exit = sum(tree.nodes[n].exit_code is None for n in ids)
    run = tree.run or "run"
    scores, neutral = [], 0
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        for node_id, (score, rationale) in zip(chunk, evaluate(scorer, contexts(tree, chunk))):
            fields = {"id": node_id, "scorer": scorer.name, "score": round(score, 6)}
            if rationale:
                fields["rationale"] = rationale
                neutral += rationale.startswith(f"{scorer.name} failed")
            scores.append(make_event("node_scored", run, **fields))
    data = encode_events([*events, *scores])
    target = write_new(out, data) if out is not None else create_unique(scored_name(source), data)
    return {
        "scored": len(ids),
        "of": len(tree),
        "without_exit_code": without_exit,
        "scorer": scorer.name,
        "failed_to_neutral": neutral,
        "log": str(target),
        "input": str(source),
    }
