"""``trajscope bench prm``: PRM throughput by batch size and device, and held-out quality.

Throughput is end to end (encoding the steps' text and the forward pass), on
steps from the bundled dataset, after one warm-up batch; each figure is the
median of ``--repeat`` timed passes. Quality is AUROC and pairwise ranking
accuracy of ``builtin`` and ``heuristic`` on the tasks the shipped weights were
not trained on (their metadata names them).
"""

from __future__ import annotations

import json
import statistics
import time


def measure(scorer, contexts: list, batch: int, repeat: int, cold: bool = False) -> dict:
    """Median time to score ``batch`` steps; ``cold`` empties the tokenizer's cache first
    (a search re-scores paths whose earlier steps are cached, so warm is the usual case)."""
    import torch

    from engine.prm.model import _segment

    items = (contexts * (batch // max(1, len(contexts)) + 1))[:batch]
    scorer.batch_size = max(batch, 1)
    scorer.score(items)  # warm-up
    times = []
    for _ in range(repeat):
        if cold:
            _segment.cache_clear()
        if scorer.device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        scorer.score(items)
        if scorer.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    t = statistics.median(times)
    return {"device": scorer.device.type, "batch": batch, "cache": "cold" if cold else "warm",
            "ms_per_batch": round(t * 1000, 2),
            "ms_per_step": round(t * 1000 / batch, 3), "steps_per_s": round(batch / t, 1)}


def add_options(p) -> None:
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32, 256], help="batch sizes")
    p.add_argument("--repeat", type=int, default=20, help="repetitions of each batch")
    p.add_argument("--json", action="store_true")


def run(args) -> int:
    import torch
    from rich.console import Console
    from rich.table import Table

    from engine.prm import data
    from engine.prm.heuristic import HeuristicScorer
    from engine.prm.model import BuiltinScorer
    from engine.prm.train import evaluate_scores

    console = Console(stderr=True)
    examples = data.load()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if len(devices) == 1:
        console.print("bench prm: no CUDA GPU here, so CPU figures only")
    rows = []
    for device in devices:
        scorer = BuiltinScorer(device=device)
        contexts = [e.context for e in examples[:512]]
        for batch in args.batches:
            console.print(f"bench prm: {device}, batch {batch}…")
            rows.append(measure(scorer, contexts, batch, args.repeat))
            rows.append(measure(scorer, contexts, batch, args.repeat, cold=True))
    scorer = BuiltinScorer(device="cpu")
    held = set(scorer.meta.get("held_out_tasks") or [])
    test = [e for e in examples if e.context.task_id in held]
    quality = {
        "held_out_tasks": sorted(held),
        "builtin": evaluate_scores(test, scorer.score([e.context for e in test])),
        "heuristic": evaluate_scores(test, HeuristicScorer().score([e.context for e in test])),
    }
    result = {"throughput": rows, "quality": quality, "torch": torch.__version__,
              "threads": torch.get_num_threads()}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    table = Table(title="trajscope bench prm: builtin throughput (encode + forward)")
    for column in ("device", "batch", "tokenizer cache", "ms/batch", "ms/step", "steps/s"):
        table.add_column(column)
    for r in rows:
        table.add_row(r["device"], str(r["batch"]), r["cache"], str(r["ms_per_batch"]), str(r["ms_per_step"]), f"{r['steps_per_s']:,}")
    Console().print(table)
    q = Table(title=f"held-out tasks: {', '.join(quality['held_out_tasks'])}")
    for column in ("scorer", "AUROC", "pairwise", "steps"):
        q.add_column(column)
    for name in ("builtin", "heuristic"):
        q.add_row(name, f"{quality[name]['auroc']:.3f}", f"{quality[name]['pairwise']:.3f}", str(quality[name]["steps"]))
    Console().print(q)
    return 0
