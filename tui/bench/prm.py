"""``trajscope bench prm``: PRM throughput by batch size and device, and held-out quality.

Throughput is end to end (encoding the steps' text and the forward pass), on
steps from the bundled dataset, after one warm-up batch; each figure is the
median of ``--repeat`` timed passes. Quality is AUROC and pairwise ranking
accuracy of ``builtin`` and ``heuristic`` on the tasks the shipped weights were
not trained on (their metadata names them).

With ``--prm hf:DIR``: a local reward model's steps per second and latency by batch size and
input length (steps built to about ``--lengths`` tokens each, its score cache emptied before
every pass), on the CPU and, when there is one, on CUDA; and the peak CUDA memory. With
``--prm vllm:URL``: the same, end to end through the server (rendering here, scoring there).
"""

from __future__ import annotations

import json
import statistics
import time


def measure(scorer, contexts: list, batch: int, repeat: int, cold: bool = False) -> dict:
    """Median time to score ``batch`` steps; ``cold`` empties the tokenizer's cache first
    (a search re-scores paths whose earlier steps are cached, so warm is the usual case)."""
    import torch

    from trajscope.engine.prm.model import segment

    items = (contexts * (batch // max(1, len(contexts)) + 1))[:batch]
    scorer.batch_size = max(batch, 1)
    scorer.score(items)  # warm-up
    times = []
    for _ in range(repeat):
        if cold:
            segment.cache_clear()
        if scorer.device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        scorer.score(items)
        if scorer.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    t = statistics.median(times)
    return {
        "device": scorer.device.type,
        "batch": batch,
        "cache": "cold" if cold else "warm",
        "ms_per_batch": round(t * 1000, 2),
        "ms_per_step": round(t * 1000 / batch, 3),
        "steps_per_s": round(batch / t, 1),
    }


def add_options(p) -> None:
    p.add_argument(
        "--prm", metavar="hf:DIR", help="measure this reward model (hf:DIR or vllm:URL) instead of the builtin"
    )
    p.add_argument("--lengths", type=int, nargs="+", default=[512, 1024, 4096], help="hf: input lengths in tokens")
    p.add_argument("--devices", nargs="+", help="hf: cpu and/or cuda (default: both where there is a GPU)")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32, 256], help="batch sizes")
    p.add_argument("--repeat", type=int, default=20, help="repetitions of each batch")
    p.add_argument("--json", action="store_true")


def _sized(scorer, tokens: int, seed: int):
    """A step whose input is about ``tokens`` tokens long (a long path of real-looking steps)."""
    from trajscope.engine.actions import Action
    from trajscope.engine.prm.base import StepContext
    from trajscope.engine.trace import Step

    def make(n: int) -> StepContext:
        path = [
            Step(
                Action("bash", {"command": f"grep -n def src/mod{i}.py"}, raw=f"grep -n def src/mod{i}.py"),
                "",
                f"{i}:def handler_{seed}_{i}(request, response):\n" * 3,
                0,
            )
            for i in range(n)
        ]
        return StepContext(
            f"Issue {seed}: the parser drops the last field of quoted rows.",
            path,
            Action("bash", {"command": "pytest -q"}, raw="python3 -m pytest -q tests"),
            "3 passed",
            0,
        )

    lo, hi = 0, 4096
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(scorer.encode(make(mid))) <= tokens and "earlier step" not in scorer.tokenizer.decode(
            scorer.encode(make(mid))
        ):
            lo = mid
        else:
            hi = mid - 1
    return make(lo)


def measure_hf(args, console) -> list[dict]:
    import torch

    from trajscope.engine.prm.registry import get_scorer

    served = args.prm.startswith("vllm:")  # the server's device, whatever it is; timed over HTTP
    devices = ["server"] if served else args.devices or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    rows = []
    for device in devices:
        scorer = get_scorer(args.prm) if served else get_scorer(args.prm, device=device)
        for length in args.lengths:
            if length > scorer.max_length:
                console.print(f"bench prm: {length} tokens is past the model's {scorer.max_length}; skipped")
                continue
            steps = [_sized(scorer, length, seed) for seed in range(4)]
            tokens = statistics.mean(len(scorer.encode(s)) for s in steps)
            for batch in args.batches:
                items = (steps * (batch // len(steps) + 1))[:batch]
                items = [
                    type(s)(s.issue + f" #{i}", s.path, s.action, s.observation, s.exit_code)
                    for i, s in enumerate(items)
                ]  # distinct inputs: nothing comes from the cache
                scorer.batch_size = batch
                if device == "cuda":
                    torch.cuda.reset_peak_memory_stats()
                times = []
                for _ in range(max(1, args.repeat) + 1):
                    scorer.cache.clear()
                    if device == "cuda":
                        torch.cuda.synchronize()
                    started = time.perf_counter()
                    scorer.score(items)
                    if device == "cuda":
                        torch.cuda.synchronize()
                    times.append(time.perf_counter() - started)
                t = statistics.median(times[1:])  # the first is a warm-up
                rows.append(
                    {
                        "device": device,
                        "tokens": round(tokens),
                        "batch": batch,
                        "ms_per_batch": round(t * 1000, 1),
                        "steps_per_s": round(batch / t, 2),
                        "dtype": str(getattr(scorer, "dtype", "served")).replace("torch.", ""),
                        "peak_mb": round(torch.cuda.max_memory_allocated() / 2**20) if device == "cuda" else None,
                    }
                )
                console.print(
                    f"bench prm: {device} {round(tokens)} tokens, batch {batch}: {rows[-1]['steps_per_s']} steps/s"
                )
    return rows


def run(args) -> int:
    import torch
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from trajscope.engine.prm import data
    from trajscope.engine.prm.heuristic import HeuristicScorer
    from trajscope.engine.prm.model import BuiltinScorer
    from trajscope.engine.prm.train import evaluate_scores

    console = Console(stderr=True)
    if args.prm:
        rows = measure_hf(args, console)
        if args.json:
            print(json.dumps({"prm": args.prm, "rows": rows, "torch": torch.__version__}, indent=2))
            return 0
        table = Table(title=Text(f"trajscope bench prm: {args.prm} (encode + forward, no cache)"))
        for column in ("device", "dtype", "tokens", "batch", "ms/batch", "steps/s", "peak MB"):
            table.add_column(column)
        for r in rows:
            table.add_row(
                r["device"],
                r["dtype"],
                str(r["tokens"]),
                str(r["batch"]),
                str(r["ms_per_batch"]),
                str(r["steps_per_s"]),
                "" if r["peak_mb"] is None else str(r["peak_mb"]),
            )
        Console().print(table)
        return 0
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
    result = {"throughput": rows, "quality": quality, "torch": torch.__version__, "threads": torch.get_num_threads()}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    table = Table(title="trajscope bench prm: builtin throughput (encode + forward)")
    for column in ("device", "batch", "tokenizer cache", "ms/batch", "ms/step", "steps/s"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["device"],
            str(r["batch"]),
            r["cache"],
            str(r["ms_per_batch"]),
            str(r["ms_per_step"]),
            f"{r['steps_per_s']:,}",
        )
    Console().print(table)
    q = Table(title=f"held-out tasks: {', '.join(quality['held_out_tasks'])}")
    for column in ("scorer", "AUROC", "pairwise", "steps"):
        q.add_column(column)
    for name in ("builtin", "heuristic"):
        q.add_row(
            name, f"{quality[name]['auroc']:.3f}", f"{quality[name]['pairwise']:.3f}", str(quality[name]["steps"])
        )
    Console().print(q)
    return 0
