"""``trajscope prm collect|train|score``: the process reward model from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

DEMO_TASKS = Path(__file__).resolve().parent.parent / "demo_data" / "tasks"


def _say(line: str) -> None:
    print(f"trajscope: {line}", file=sys.stderr, flush=True)


def cmd_prm(args) -> int:
    if args.action == "collect":
        return _collect(args)
    if args.action == "train":
        return _train(args)
    return _score(args)


def _collect(args) -> int:
    from engine.prm.data import collect, examples_from_logs, save
    from engine.tasks import load_task

    task_dirs = args.tasks or sorted(p for p in DEMO_TASKS.iterdir() if (p / "task.json").is_file())
    tasks = [load_task(p) for p in task_dirs]
    logs = collect(Path(args.out), tasks, args.demo_seeds, args.fake_seeds, tuple(args.wrong_rates),
                   sandbox=args.sandbox, workers=args.workers, say=_say)
    examples = examples_from_logs(logs)
    save(examples, Path(args.dataset))
    positives = sum(e.outcome for e in examples)
    print(json.dumps({"runs": len(logs), "steps": len(examples), "positive_steps": positives,
                      "dataset": str(args.dataset)}, indent=2))
    return 0


def _train(args) -> int:
    from engine.prm.train import train

    report = train(Path(args.dataset), Path(args.weights), seed=args.seed, epochs=args.epochs,
                   held_out=args.held_out, device=args.device, say=_say)
    print(json.dumps(report, indent=2))
    return 0


def _score(args) -> int:
    from engine.prm.score import score_log

    if not args.run:
        from tui.errors import UserError

        raise UserError("prm score needs a run log")
    counts = score_log(Path(args.run), args.prm, out=Path(args.out) if args.out else None, device=args.device)
    print(json.dumps(counts, indent=2))
    return 0
