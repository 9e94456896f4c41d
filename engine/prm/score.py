"""``trajscope prm score``: score every executed step of a run log and write ``node_scored`` events."""

from __future__ import annotations

import shutil
from pathlib import Path

from engine.events import RunLog, read_events
from engine.prm.base import contexts, evaluate
from engine.prm.registry import get_scorer
from engine.tree import ROOT, Tree


def score_log(path: Path, scorer_name: str = "builtin", out: Path | None = None, device: str | None = None,
              batch: int = 256) -> dict:
    """Append ``node_scored`` events for every executed node to ``path`` (or to a copy at ``out``)."""
    scorer = get_scorer(scorer_name, device=device)
    tree = Tree.fold(read_events(path))
    ids = [n for n in tree.preorder() if n != ROOT and tree.nodes[n].exit_code is not None]
    target = path
    if out is not None:
        if out.resolve() == path.resolve():
            out = None
        else:
            shutil.copyfile(path, out)
            target = out
    neutral = 0
    with RunLog(target, run=tree.run or None) as log:
        events = []
        for start in range(0, len(ids), batch):
            chunk = ids[start:start + batch]
            for node_id, (score, rationale) in zip(chunk, evaluate(scorer, contexts(tree, chunk))):
                event = {"type": "node_scored", "id": node_id, "scorer": scorer.name, "score": round(score, 6)}
                if rationale:
                    event["rationale"] = rationale
                    neutral += rationale.startswith(f"{scorer.name} failed")
                events.append(event)
        log.extend(events)
    return {"scored": len(ids), "scorer": scorer.name, "failed_to_neutral": neutral, "log": str(target)}
