"""Labelled steps for the PRM: collected by running rollouts, read back from run logs.

A step's label is whether its path reached a verified, resolved submission.
Where many runs share a prefix, the step's training target is the mean outcome
over them (a Monte-Carlo estimate of P(resolve | prefix)). A person's prune of a
node labels it and everything below 0; a promote labels it 1. Datasets are
split by task, never by step.
"""

from __future__ import annotations

import gzip
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import orjson

from trajscope.engine.actions import Action
from trajscope.engine.events import read_events
from trajscope.engine.files import replacing
from trajscope.engine.trace import Step
from trajscope.engine.prm.base import StepContext, contexts, has_run
from trajscope.engine.tree import ROOT, Tree

DATASET = Path(__file__).resolve().parents[2] / "demo_data" / "prm" / "steps.jsonl.gz"  # demo_data.PRM_STEPS
OBS_KEEP = 1_500  # characters of each observation a dataset keeps (head and tail)


@dataclass(slots=True)
class Example:
    context: StepContext
    label: float  # the training target, 0..1
    outcome: int  # the outcome of this example's own path, 0 or 1
    run: str = ""
    final: bool = False  # the last step of its path (a submit, or where the run stopped)


def _cut(text: str | None) -> str | None:
    if text is None or len(text) <= OBS_KEEP:
        return text
    return text[: OBS_KEEP // 2] + "\n…\n" + text[-OBS_KEEP // 2 :]


def examples_from_tree(tree: Tree, run: str = "") -> list[Example]:
    """Every executed step of a tree with the outcome of the path below it."""
    human = {}
    for node in tree.nodes.values():
        if node.status_by == "human" and node.status in ("pruned", "promoted"):
            human[node.id] = 0.0 if node.status == "pruned" else 1.0
    leaves = [n for n in tree.leaves() if n != ROOT]
    outcome_of_leaf = {leaf: float(bool((tree.nodes[leaf].verified or {}).get("resolved"))) for leaf in leaves}
    ids = [n for n in tree.preorder() if n != ROOT and has_run(tree.nodes[n])]  # imported steps too
    out = []
    for ctx, node_id in zip(contexts(tree, ids), ids):
        below = [outcome_of_leaf[leaf] for leaf in leaves if leaf == node_id or _under(tree, leaf, node_id)]
        label = sum(below) / len(below) if below else 0.0
        for ancestor in tree.path(node_id):  # the deepest verdict of a person wins
            if ancestor.id in human:
                label = human[ancestor.id]
        ctx.path = [Step(s.action, "", _cut(s.observation) or "", s.exit_code) for s in ctx.path]
        ctx.observation = _cut(ctx.observation)
        out.append(Example(ctx, label, int(label >= 0.5), run, not tree.children(node_id)))
    return out


def _under(tree: Tree, node_id: str, ancestor: str) -> bool:
    return any(n.id == ancestor for n in tree.path(node_id))


def examples_from_logs(paths: list[Path]) -> list[Example]:
    """Examples from run logs; identical prefixes across runs of a task share a Monte-Carlo label."""
    examples = []
    for path in paths:
        examples += examples_from_tree(Tree.fold(read_events(path)), run=path.stem)
    return share_prefix_labels(examples)


def has_labels(tree: Tree) -> bool:
    """Whether a tree says anything about outcomes: a verdict on a leaf, or a person's prune or
    promotion. A trajectory with neither would only teach that every step fails."""
    return any(
        n.verified or (n.status_by == "human" and n.status in ("pruned", "promoted")) for n in tree.nodes.values()
    )


def share_prefix_labels(examples: list[Example]) -> list[Example]:
    """Identical prefixes across runs of a task share one Monte-Carlo label (their mean outcome)."""
    groups: dict[tuple, list[Example]] = defaultdict(list)
    for ex in examples:
        groups[
            (ex.context.task_id, *(repr(sorted(s.action.args.items())) + s.action.tool for s in ex.context.steps))
        ].append(ex)
    for members in groups.values():
        mean = sum(e.outcome for e in members) / len(members)
        for e in members:
            e.label = mean
    return examples


def save(examples: list[Example], path: Path) -> None:
    """The dataset, gzipped JSON lines, replacing ``path`` whole (engine/files.py)."""
    with replacing(path) as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=9, mtime=0) as fh:
        for ex in examples:
            c = ex.context
            fh.write(
                orjson.dumps(
                    {
                        "task": c.task_id,
                        "run": ex.run,
                        "label": ex.label,
                        "outcome": ex.outcome,
                        "final": ex.final,
                        "issue": c.issue,
                        "path": [[s.action.to_dict(), s.observation, s.exit_code] for s in c.path],
                        "action": c.action.to_dict(),
                        "observation": c.observation,
                        "exit_code": c.exit_code,
                    }
                )
                + b"\n"
            )


def load(path: Path = DATASET) -> list[Example]:
    out = []
    with gzip.open(path, "rb") as fh:
        for line in fh:
            d = orjson.loads(line)
            path_steps = [Step(Action.from_dict(a), "", o or "", e) for a, o, e in d["path"]]
            ctx = StepContext(
                d["issue"], path_steps, Action.from_dict(d["action"]), d["observation"], d["exit_code"], d["task"]
            )
            out.append(Example(ctx, d["label"], d["outcome"], d["run"], d["final"]))
    return out


def split_by_task(examples: list[Example], held_out: int, seed: int) -> tuple[list[Example], list[Example], list[str]]:
    tasks = sorted({e.context.task_id for e in examples})
    if len(tasks) < 2:
        raise ValueError(f"the steps come from {len(tasks)} task(s); holding tasks out needs at least 2")
    test = sorted(random.Random(seed).sample(tasks, min(held_out, len(tasks) - 1)))
    return (
        [e for e in examples if e.context.task_id not in test],
        [e for e in examples if e.context.task_id in test],
        test,
    )
