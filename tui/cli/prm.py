"""``trajscope prm collect|train|score``: the process reward model from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from trajscope.demo_data import PRM_STEPS, task_dirs
from trajscope.tui.cli.common import ROOT


def add_parser(sub) -> None:
    p = sub.add_parser("prm", help="the process reward model: collect labelled steps, train, score a run")
    # one parser an action, so `prm score --help` shows score's options and not train's
    actions = p.add_subparsers(dest="action", required=True, metavar="{collect,train,score}")
    from trajscope.engine.prm.registry import SCORERS

    score = actions.add_parser("score", help="score a run's steps into a new run log")
    score.add_argument(
        "run",
        nargs="?",
        help="the run log (or a trajectory trajscope reads) to score; it is never written: the scored "
        "run goes to a new log",
    )
    score.add_argument("--prm", default="builtin", help=f"{SCORERS.names()}, or your own scorer class as module:Class")
    score.add_argument("--out", help="the new run log, with the scores (default: RUN.scored.jsonl beside the input)")

    collect = actions.add_parser("collect", help="run rollouts on tasks and write their labelled steps")
    collect.add_argument("--out", default="prm-runs", help="where the run logs go (default prm-runs/)")
    collect.add_argument("--tasks", nargs="+", help="task directories (default: the bundled tasks)")
    collect.add_argument("--demo-seeds", type=int, default=30, help="demo-policy runs per task")
    collect.add_argument("--fake-seeds", type=int, default=10, help="fake-model runs per task and error rate")
    collect.add_argument(
        "--wrong-rates", type=float, nargs="+", default=[0.3, 0.6], help="the fake models' chances of a wrong fix"
    )
    collect.add_argument(
        "--sandbox",
        choices=["local", "docker", "none"],
        default="local",
        help="none: the agent's commands run UNCONFINED on this machine, only when you choose it",
    )
    collect.add_argument("--workers", type=int, default=2)

    train = actions.add_parser("train", help="train the PRM on the steps dataset or on run logs")
    train.add_argument(
        "--weights",
        default=str(ROOT / "engine" / "prm" / "weights" / "builtin.pt"),
        help="where the weights go (default: the ones the package ships)",
    )
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--epochs", type=int, default=12)
    train.add_argument("--held-out", type=int, default=3, help="tasks held out for evaluation")
    train.add_argument(
        "--from",
        dest="from_runs",
        nargs="+",
        metavar="RUNS",
        help="train on these run logs, folders of runs (with their harness reports) and imported "
        "trajectories; labels from verdicts, Monte-Carlo outcomes and human prunes/promotions",
    )
    train.add_argument("--finetune", action="store_true", help="with --from: start from the shipped weights")
    train.add_argument("--with-bundled", action="store_true", help="with --from: add the bundled steps dataset")

    for action, what in ((collect, "writes"), (train, "reads")):
        action.add_argument("--dataset", default=str(PRM_STEPS), help=f"the steps dataset this {what}")
    for action in (score, train):
        action.add_argument("--device", help="cpu, cuda or mps (default: CUDA, else MPS, else CPU)")


def _say(line: str) -> None:
    print(f"trajscope: {line}", file=sys.stderr, flush=True)


def run(args) -> int:
    if args.action == "collect":
        return _collect(args)
    if args.action == "train":
        return _train(args)
    return _score(args)


def _collect(args) -> int:
    from trajscope.engine.prm.data import examples_from_logs, save
    from trajscope.engine.policy_runs import collect
    from trajscope.engine.tasks import load_task

    tasks = [load_task(p) for p in (args.tasks or task_dirs())]
    logs = collect(
        Path(args.out),
        tasks,
        args.demo_seeds,
        args.fake_seeds,
        tuple(args.wrong_rates),
        sandbox=args.sandbox,
        workers=args.workers,
        say=_say,
    )
    examples = examples_from_logs(logs)
    save(examples, Path(args.dataset))
    positives = sum(e.outcome for e in examples)
    print(
        json.dumps(
            {"runs": len(logs), "steps": len(examples), "positive_steps": positives, "dataset": str(args.dataset)},
            indent=2,
        )
    )
    return 0


def _train(args) -> int:
    from trajscope.engine.prm.model import WEIGHTS
    from trajscope.engine.prm.train import train
    from trajscope.tui.errors import UserError

    if not args.from_runs:
        report = train(
            Path(args.dataset),
            Path(args.weights),
            seed=args.seed,
            epochs=args.epochs,
            held_out=args.held_out,
            device=args.device,
            say=_say,
        )
        print(json.dumps(report, indent=2))
        return 0
    from trajscope.engine.prm import data
    from trajscope.engine.policy_runs import examples_from_runs

    examples, counts = examples_from_runs(args.from_runs, say=_say)
    if args.with_bundled:
        examples += data.load(Path(args.dataset))
    if not examples:
        raise UserError("none of these runs has a verdict, a Monte-Carlo outcome or a human label to learn from")
    weights = Path(args.weights)
    if weights.resolve() == WEIGHTS.resolve():  # never replace the shipped weights by accident
        weights = Path("trajscope-prm.pt")
    try:
        report = train(
            None,
            weights,
            seed=args.seed,
            epochs=args.epochs,
            held_out=args.held_out,
            device=args.device,
            say=_say,
            examples=examples,
            init=WEIGHTS if args.finetune else None,
        )
    except ValueError as exc:
        raise UserError(f"cannot hold tasks out for evaluation: {exc}") from None
    report |= {"from": [str(p) for p in args.from_runs], "runs": counts, "weights": str(weights)}
    print(json.dumps(report, indent=2))
    return 0


def _score(args) -> int:
    from trajscope.engine.formats import load
    from trajscope.engine.prm.score import check_out, score_log

    if not args.run:
        from trajscope.tui.errors import UserError

        raise UserError("prm score needs a run log")
    source, out = Path(args.run), Path(args.out) if args.out else None
    if out is not None:
        check_out(source, out)  # before the input is read and scored
    loaded = load(source)  # a run log, or another tool's trajectory converted to one
    counts = score_log(source, loaded.events, args.prm, out=out, device=args.device)
    what = "the run log" if loaded.format == "runlog" else f"the {loaded.format} trajectory, converted,"
    _say(
        f"{what} with {counts['scored']} {counts['scorer']} score(s) written to {counts['log']}; "
        f"{source} is left as it was"
    )
    if counts["scored"] < counts["of"]:
        _say(
            f"{counts['of'] - counts['scored']} of {counts['of']} steps are not scored: they never ran "
            "(the file records no output for them)"
        )
    if counts["without_exit_code"]:
        _say(
            f"{counts['without_exit_code']} scored step(s) record no exit code (imported): they are scored "
            "from what they printed (an error in it counts as a failure)"
        )
    print(json.dumps(counts, indent=2))
    return 0
