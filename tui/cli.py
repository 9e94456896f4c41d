"""The ``trajscope`` command (docs/architecture.md section 8)."""

from __future__ import annotations

import argparse
import json
import signal
import stat
import sys
from pathlib import Path

from engine.events import write_events
from engine.formats import FormatError, check_head, load
from engine.policy.base import PolicyError
from engine.prm.base import ScorerError
from engine.sandbox.base import SandboxError
from engine.tasks import TaskError
from engine.tree import Tree
from tui.errors import UserError


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise UserError(f"{path} does not exist")
    if path.is_dir():
        raise UserError(f"{path} is a directory, not a file")
    if not stat.S_ISREG(path.stat().st_mode):  # a FIFO would hang the read, /dev/zero never end
        raise UserError(f"{path} is not a regular file (a FIFO, a device or a socket)")


def cmd_open(args: argparse.Namespace) -> int:
    path = Path(args.path)
    _check_readable(path)
    if args.replay is not None and args.replay <= 0:
        raise UserError("--replay SPEED must be a positive number")
    if args.follow and args.replay:
        raise UserError("--follow and --replay cannot be used together")
    if not args.follow:
        # Fail before the screen switches when the file is plainly unreadable.
        with open(path, "rb") as fh:
            check_head(path, fh.read(8192))
    from tui.app import TrajscopeApp
    from tui.bridge import Source

    app = TrajscopeApp(Source(path, follow=args.follow, replay=args.replay), theme=args.theme)
    app.run()
    if app.return_code:
        raise UserError(app.load_error or "the run could not be opened")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    loaded = load(args.path)
    out = Path(args.output)
    if out.exists() and out.resolve() == Path(args.path).resolve():
        raise UserError("the output would overwrite the input")
    write_events(out, loaded.events)
    stats = Tree.fold(loaded.events).stats()
    print(f"{args.path} ({loaded.format}) -> {out}: {stats['nodes']} nodes, "
          f"{stats['branch_points']} branch points, {stats['submissions']} submissions")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    loaded = load(args.path)
    tree = Tree.fold(loaded.events)
    stats = tree.stats() | {
        "format": loaded.format,
        "skipped_lines": loaded.counts.damaged + loaded.counts.unknown,
        "dangling_events": tree.counts.dangling,
    }
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{args.path} ({loaded.format})", show_header=False, box=None)
    for key, value in stats.items():
        table.add_row(key.replace("_", " "), f"{value:,}" if isinstance(value, int) else str(value))
    Console().print(table)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from tui.bench import run_bench

    return run_bench(args)


def _read_patch(args: argparse.Namespace, task) -> str:
    if args.gold:
        if args.patch:
            raise UserError("--gold and --patch cannot be used together")
        if task.gold_patch is None:
            raise UserError(f"{task.instance_id} has no reference fix (gold.patch)")
        return task.gold_patch
    if not args.patch:
        return ""
    if args.patch == "-":
        return sys.stdin.read()
    path = Path(args.patch)
    _check_readable(path)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path} is not a text patch") from None


def cmd_verify(args: argparse.Namespace) -> int:
    from engine.tasks import load_task, verify

    task = load_task(args.task, args.instance)
    patch = _read_patch(args, task)
    result = verify(task, patch, sandbox=args.sandbox, timeout=args.timeout)
    code = {"resolved": 0, "unresolved": 1, "error": 3}[result.verdict]
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
        return code
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"{task.instance_id} ({args.sandbox} sandbox, {result.duration_s:.1f} s)")
    table.add_column("test")
    table.add_column("kind")
    table.add_column("result")
    for kind, tests in (("FAIL_TO_PASS", result.fail_to_pass), ("PASS_TO_PASS", result.pass_to_pass)):
        for test, ok in tests.items():
            table.add_row(test, kind, "[green]pass[/]" if ok else "[red]fail[/]")
    if result.fail_to_pass or result.pass_to_pass:
        console.print(table)
    if result.verdict == "error":
        console.print(f"[bold yellow]VERIFICATION ERROR[/]: {result.error}")
        return code
    if result.error:
        console.print(f"[red]{result.error}[/]")
    console.print("[bold green]RESOLVED[/]" if result.resolved else "[bold red]NOT RESOLVED[/]")
    return code


def cmd_sandbox(args: argparse.Namespace) -> int:
    if args.action == "build-image":
        from engine.sandbox.image import build_image

        build_image(args.tag, method=args.method, force=args.force, mirror=args.mirror,
                    say=lambda line: print(f"trajscope: {line}", file=sys.stderr))
        return 0
    from engine.sandbox import docker as docker_sandbox
    from engine.sandbox import local

    reaped = local.reap_leftovers()
    available, why = docker_sandbox.docker_available()
    if available:
        reaped += docker_sandbox.reap_leftovers()
    print(f"removed {reaped} leftover sandbox{'es' if reaped != 1 else ''}"
          + ("" if available else f" (Docker skipped: {why})"))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from tui.run_cmd import cmd_run as run

    return run(args)


def cmd_search(args: argparse.Namespace) -> int:
    from tui.search_cmd import cmd_search as search

    return search(args)


DEMO_TASK = "duration-ms-unit"
TASKS_DIR = Path(__file__).resolve().parent.parent / "demo_data" / "tasks"


def bundled_tasks() -> list[str]:
    return sorted(p.name for p in TASKS_DIR.iterdir() if p.is_dir()) if TASKS_DIR.is_dir() else []


def cmd_demo(args: argparse.Namespace) -> int:
    from tui.search_cmd import cmd_search as search

    if args.task in bundled_tasks():
        args.task = str(TASKS_DIR / args.task)
    return search(args)


def cmd_prm(args: argparse.Namespace) -> int:
    from tui.prm_cmd import cmd_prm as prm

    return prm(args)


def add_policy_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="demo",
                   help="a litellm model string (openai/..., anthropic/..., ollama/..., hosted_vllm/...), "
                        "or demo for the demo policy (the default)")
    p.add_argument("--api-base", metavar="URL", help="the model server, e.g. http://localhost:8000/v1")
    p.add_argument("--api-key", metavar="KEY", help="the API key (default: the provider's environment variable)")
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--tool-mode", choices=["auto", "tools", "text"], default="auto",
                   help="function calling, or the text format (one fenced bash block a turn)")
    p.add_argument("--teacher", metavar="MODEL", help="DAgger: a teacher model mixed with --model (the student)")
    p.add_argument("--beta", type=float, default=0.5, help="DAgger: the chance the teacher acts at a turn")
    p.add_argument("--sandbox", choices=["auto", "docker", "local"], default="auto",
                   help="auto: Docker when a daemon and the image are there, else local")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=120, help="seconds one command may run")


def add_search_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--strategy", choices=["dars", "prune", "dars+prune", "sample", "linear"], default="dars")
    p.add_argument("--prm", default="builtin", help="scorers, comma-separated (builtin, heuristic, rubric:M, hf:DIR), or none")
    p.add_argument("--device", help="where the PRM runs: cpu, cuda or mps (default: the best there is)")
    p.add_argument("--workers", type=int, default=1, help="rollouts at once, one sandbox each")
    p.add_argument("--max-nodes", type=int, default=60, help="node budget")
    p.add_argument("--max-tokens", type=int, help="token budget")
    p.add_argument("--max-cost", type=float, help="cost budget in dollars")
    p.add_argument("--max-time", type=float, help="wall-time budget in seconds")
    p.add_argument("--max-depth", type=int, default=30, help="steps a rollout may take")
    p.add_argument("--samples", type=int, default=4, help="sample: independent rollouts")
    p.add_argument("--k", type=int, default=3, help="dars: candidates per expansion")
    p.add_argument("--prune-m", type=int, default=3, help="prune: candidates sampled per step")
    p.add_argument("--prune-b", type=int, default=1, help="prune: candidates kept per step")
    p.add_argument("--critic", choices=["prm", "llm", "first"], default="prm", help="dars: who picks among candidates")
    p.add_argument("--select", choices=["prm", "judge", "rtv"], default="prm",
                   help="how the patch is chosen: PRM score, an LLM judge, or recursive tournament voting")
    p.add_argument("--refine-rounds", type=int, default=0,
                   help="PDR: more rounds of rollouts, each conditioned on distilled summaries of the last")
    p.add_argument("--judge", metavar="MODEL", help="the model that judges for --select judge|rtv (default: --model)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trajscope", description="Watch and steer tree search over coding-agent trajectories.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("open", help="view a run log or an imported trajectory or tree")
    p.add_argument("path")
    p.add_argument("--follow", action="store_true", help="show nodes as another process appends them")
    p.add_argument("--replay", type=float, metavar="SPEED", help="animate a finished log at SPEED× its pace")
    p.add_argument("--theme", choices=["trajscope-dark", "trajscope-light"])
    p.set_defaults(func=cmd_open)

    p = sub.add_parser("convert", help="import SWE-agent / mini-swe-agent / DARS files into a run log")
    p.add_argument("path")
    p.add_argument("-o", "--output", required=True, metavar="OUT.jsonl")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("stats", help="nodes, leaves, depth, branch points, submissions, tokens, cost")
    p.add_argument("path")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("run", help="one linear rollout of an agent on a task, verified at the end")
    p.add_argument("task", help="a task directory, or a SWE-bench JSON/JSONL file with --instance")
    p.add_argument("--instance", metavar="ID", help="the instance of a SWE-bench file")
    add_policy_options(p)
    p.add_argument("--max-steps", type=int, default=30)
    p.add_argument("--out", metavar="RUN.jsonl", help="the run log (default: runs/<instance>-<time>.jsonl)")
    p.add_argument("--headless", action="store_true", help="print progress and a JSON result instead of the viewer")
    p.add_argument("--theme", choices=["trajscope-dark", "trajscope-light"])
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="a live search on a bundled task: no API key, no Docker, no network needed")
    p.add_argument("task", nargs="?", default=DEMO_TASK,
                   help=f"a bundled task ({', '.join(bundled_tasks())}) or a task directory (default {DEMO_TASK})")
    add_policy_options(p)
    add_search_options(p)
    p.add_argument("--pace", type=float, default=0.25,
                   help="seconds each demo-policy step takes, so the tree grows at a watchable speed (0: flat out)")
    p.add_argument("--out", metavar="RUN.jsonl", help="the run log (default: runs/<instance>-<time>.jsonl)")
    p.add_argument("--headless", action="store_true", help="progress bars and a JSON result instead of the app")
    p.add_argument("--theme", choices=["trajscope-dark", "trajscope-light"])
    p.set_defaults(func=cmd_demo, strategy="dars+prune", prune_b=2, workers=2, instance=None, resume=False)

    p = sub.add_parser("search", help="tree search on a task (DARS, PRM pruning, sampling); --headless for a JSON result")
    p.add_argument("task", help="a task directory, or a SWE-bench JSON/JSONL file with --instance")
    p.add_argument("--instance", metavar="ID", help="the instance of a SWE-bench file")
    add_policy_options(p)
    add_search_options(p)
    p.add_argument("--out", metavar="RUN.jsonl", help="the run log (default: runs/<instance>-<time>.jsonl)")
    p.add_argument("--resume", action="store_true", help="go on with the search in --out")
    p.add_argument("--headless", action="store_true", help="progress bars and a JSON result instead of the viewer")
    p.add_argument("--theme", choices=["trajscope-dark", "trajscope-light"])
    p.set_defaults(func=cmd_search)

    from tui.analyze_cmd import add_parser as add_analyze
    from tui.export_cmd import add_parser as add_export

    add_export(sub)
    add_analyze(sub)

    p = sub.add_parser("prm", help="the process reward model: collect labelled steps, train, score a run")
    p.add_argument("action", choices=["collect", "train", "score"])
    p.add_argument("run", nargs="?", help="score: the run log to score")
    p.add_argument("--prm", default="builtin", help="score: builtin, heuristic, rubric:<model> or hf:<dir>")
    p.add_argument("--out", help="score: write a scored copy here (default: append to the run log); "
                                 "collect: where the run logs go (default prm-runs/)")
    p.add_argument("--device", help="cpu, cuda or mps (default: CUDA, else MPS, else CPU)")
    p.add_argument("--dataset", default=str(Path(__file__).resolve().parent.parent / "demo_data" / "prm" / "steps.jsonl.gz"),
                   help="collect writes it, train reads it")
    p.add_argument("--weights", default=str(Path(__file__).resolve().parent.parent / "engine" / "prm" / "weights" / "builtin.pt"),
                   help="train: where the weights go (default: the ones the package ships)")
    p.add_argument("--tasks", nargs="+", help="collect: task directories (default: the bundled tasks)")
    p.add_argument("--demo-seeds", type=int, default=30, help="collect: demo-policy runs per task")
    p.add_argument("--fake-seeds", type=int, default=10, help="collect: fake-model runs per task and error rate")
    p.add_argument("--wrong-rates", type=float, nargs="+", default=[0.3, 0.6],
                   help="collect: the fake models' chances of a wrong fix")
    p.add_argument("--sandbox", choices=["local", "docker"], default="local")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=0, help="train: the seed")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--held-out", type=int, default=3, help="train: tasks held out for evaluation")
    p.set_defaults(func=cmd_prm)

    p = sub.add_parser("verify", help="apply a patch and the hidden tests in a fresh sandbox; resolved or not")
    p.add_argument("task", help="a task directory, or a SWE-bench JSON/JSONL file with --instance")
    p.add_argument("--instance", metavar="ID", help="the instance of a SWE-bench file")
    p.add_argument("--patch", metavar="FILE", help="the patch to verify ('-' reads standard input); none by default")
    p.add_argument("--gold", action="store_true", help="verify the task's reference fix")
    p.add_argument("--sandbox", choices=["local", "docker"], default="local")
    p.add_argument("--timeout", type=float, default=600, help="seconds the tests may run")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("sandbox", help="build the base Docker image, or remove leftover sandboxes")
    p.add_argument("action", choices=["build-image", "clean"])
    p.add_argument("--tag", default="trajscope/base:1")
    p.add_argument("--method", choices=["auto", "dockerfile", "debootstrap"], default="auto")
    p.add_argument("--mirror", help="Debian mirror for debootstrap")
    p.add_argument("--force", action="store_true", help="rebuild even when the image is there")
    p.set_defaults(func=cmd_sandbox)

    p = sub.add_parser("bench", help="performance benchmarks")
    p.add_argument("suite", choices=["open", "sandbox", "policy", "prm", "search", "ui"])
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--rate", type=float, default=50, help="ui suite: nodes a second the live search produces")
    p.add_argument("--seconds", type=float, default=15, help="ui suite: how long keys are pressed")
    p.add_argument("--follow-rate", type=int, default=2000, help="node events a second in the follow test")
    p.add_argument("--kinds", nargs="+", choices=["local", "docker"], default=["local", "docker"],
                   help="sandboxes the sandbox suite measures")
    p.add_argument("--repeat", type=int, default=20, help="repetitions of each sandbox operation")
    p.add_argument("--seeds", type=int, default=20, help="policy suite: seeds (runs) per task")
    p.add_argument("--sandbox", choices=["local", "docker"], default="local", help="policy suite: the sandbox")
    p.add_argument("--workers", type=int, default=2, help="policy suite: runs at once")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32, 256], help="prm suite: batch sizes")
    p.add_argument("--strategies", nargs="+", default=["linear", "sample", "dars", "prune", "dars+prune"],
                   choices=["linear", "sample", "dars", "prune", "dars+prune"], help="search suite: strategies")
    p.add_argument("--wrong-rates", type=float, nargs="+", default=[0.3, 0.5],
                   help="search suite: the fake model's chances of a wrong fix")
    p.add_argument("--max-nodes", type=int, default=30, help="search suite: the node budget of every search")
    p.add_argument("--tasks", nargs="+", help="search suite: only tasks whose id contains one of these")
    p.add_argument("--out-dir", help="search suite: where the run logs go")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    from engine.redact import RedactingStream, register

    args = build_parser().parse_args(argv)
    register(getattr(args, "api_key", None))
    # A terminated trajscope still runs its exit handlers, which remove its sandboxes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # Every line printed passes the redactor (a provider's error may echo the API key).
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = RedactingStream(out), RedactingStream(err)
    try:
        return args.func(args)
    except (UserError, FormatError, TaskError, SandboxError, PolicyError, ScorerError) as exc:
        print(f"trajscope: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        sys.stdout, sys.stderr = out, err


if __name__ == "__main__":
    sys.exit(main())
