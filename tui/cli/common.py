"""What several commands share: options, the bundled tasks, file checks, sandbox choice."""

from __future__ import annotations

import argparse
import stat
import sys
import time
from pathlib import Path

from trajscope.tui.cli.specs import spec_help
from trajscope.tui.errors import UserError

from trajscope.demo_data import task_dirs

ROOT = Path(__file__).resolve().parents[2]
DEMO_TASK = "duration-ms-unit"


def bundled_tasks() -> list[str]:
    """The names of the bundled task directories."""
    return [p.name for p in task_dirs()]


def check_readable(path: Path) -> None:
    """A regular file, or UserError (a FIFO would hang a read, /dev/zero never end)."""
    if not path.exists():
        raise UserError(f"{path} does not exist")
    if path.is_dir():
        raise UserError(f"{path} is a directory, not a file")
    if not stat.S_ISREG(path.stat().st_mode):
        raise UserError(f"{path} is not a regular file (a FIFO, a device or a socket)")


def default_out(instance_id: str) -> Path:
    """A new, empty run log ``runs/<instance>-<time>.jsonl`` (``-2``, ``-3`` ... when taken),
    created here with O_EXCL: two commands started in the same second never share one."""
    from trajscope.engine.files import create_unique, safe_name

    stamp = time.strftime("%Y%m%d-%H%M%S")
    return create_unique(Path("runs") / f"{safe_name(instance_id)}-{stamp}.jsonl")


def check_out_log(out: Path, resume: bool | None = None) -> None:
    """UserError when ``out`` cannot be this command's new run log: a directory, or a log with
    events in it (``resume``: None where the command has no --resume, so it is not offered).
    A link, a FIFO or a file that is not a run log is refused where the log is opened."""
    try:
        st = out.lstat()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UserError(f"{out} cannot be read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise UserError(f"{out} is a directory; --out names the run log file (RUN.jsonl)")
    if stat.S_ISREG(st.st_mode) and st.st_size and not resume:
        offer = ", or --resume to go on with it" if resume is False else ""
        raise UserError(f"{out} already exists; choose another --out{offer}")


SANDBOX_HELP = (
    "auto: Docker when a daemon and the image are there, else local (bubblewrap); none: the "
    "agent's commands run UNCONFINED on this machine, only when you choose it"
)


def sandbox_words(kind: str) -> str:
    """How a summary names the sandbox: plainly, and loudly when there was none."""
    return "NO sandbox (--sandbox none: the agent's commands ran unconfined)" if kind == "none" else f"{kind} sandbox"


def add_theme_option(p: argparse.ArgumentParser) -> None:
    from trajscope.themes import THEME_NAMES

    p.add_argument(
        "--theme",
        choices=THEME_NAMES,
        help="the colour theme (default: the settings file's, else the first; `trajscope settings`)",
    )


def add_task_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "task",
        help="a task directory, a bundled task's name (`trajscope tasks` lists them; a path "
        "that exists wins), or a SWE-bench JSON/JSONL file or task repository with --instance",
    )
    p.add_argument("--instance", metavar="ID", help="the instance of a SWE-bench file or task repository")


def add_out_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", metavar="RUN.jsonl", help="the run log (default: runs/<instance>-<time>.jsonl)")


def add_policy_options(p: argparse.ArgumentParser) -> None:
    from trajscope.engine.policy.factory import POLICIES

    p.add_argument(
        "--model",
        default="demo",
        help=spec_help(
            "model",
            "openai/..., anthropic/..., ollama/..., hosted_vllm/...; the policy table: "
            f"{POLICIES.names()}; or your own policy class as module:Class",
        ),
    )
    p.add_argument("--api-base", metavar="URL", help=spec_help("api_base", "e.g. http://localhost:8000/v1"))
    p.add_argument("--api-key", metavar="KEY", help=spec_help("api_key"))
    p.add_argument("--temperature", type=float, default=0.0, help=spec_help("temperature"))
    p.add_argument(
        "--tool-mode",
        choices=["auto", "tools", "text"],
        default="auto",
        help=spec_help("tool_mode", "the text format is one fenced bash block a turn"),
    )
    p.add_argument("--teacher", metavar="MODEL", help=spec_help("teacher"))
    p.add_argument("--beta", type=float, default=0.5, help=spec_help("beta"))
    p.add_argument(
        "--sandbox",
        choices=["auto", "docker", "local", "none"],
        default="auto",
        help=spec_help("sandbox", SANDBOX_HELP),
    )
    p.add_argument("--seed", type=int, default=0, help=spec_help("seed"))
    p.add_argument("--timeout", type=float, default=120, help=spec_help("timeout"))


def add_search_options(p: argparse.ArgumentParser) -> None:
    from trajscope.engine.prm.registry import SCORERS
    from trajscope.engine.search import STRATEGIES

    p.add_argument(
        "--strategy",
        default="dars",
        metavar="STRATEGY",
        help=spec_help("strategy", f"{STRATEGIES.names()}, or your own Strategy class as module:Class"),
    )
    p.add_argument(
        "--prm",
        default="builtin",
        help=spec_help("prm", f"{SCORERS.names()}, or your own scorer class as module:Class"),
    )
    p.add_argument("--device", help=spec_help("device"))
    p.add_argument("--workers", type=int, default=1, help=spec_help("workers"))
    p.add_argument("--max-nodes", type=int, default=60, help=spec_help("max_nodes"))
    p.add_argument("--max-tokens", type=int, help=spec_help("max_tokens"))
    p.add_argument("--max-cost", type=float, help=spec_help("max_cost"))
    p.add_argument("--max-time", type=float, help=spec_help("max_time"))
    p.add_argument("--max-depth", type=int, default=30, help=spec_help("max_depth"))
    p.add_argument("--samples", type=int, default=4, help=spec_help("samples"))
    p.add_argument("--k", type=int, default=3, help=spec_help("k"))
    p.add_argument("--prune-m", type=int, default=3, help=spec_help("prune_m"))
    p.add_argument("--prune-b", type=int, default=1, help=spec_help("prune_b"))
    p.add_argument("--critic", choices=["prm", "llm", "first"], default="prm", help=spec_help("critic"))
    from trajscope.engine.spec import FIELDS

    p.add_argument("--select", choices=FIELDS["select"].metadata["choices"], default="auto", help=spec_help("select"))
    p.add_argument("--refine-rounds", type=int, default=0, help=spec_help("refine_rounds"))
    p.add_argument("--judge", metavar="MODEL", help=spec_help("judge"))
    from trajscope.tui.cli.specs import add_spec_options

    add_spec_options(p)  # --config, and a strategy option the spec has and these lines do not


def many_runs(path: str | Path, report: str | None = None, instance: str | None = None):
    """``(refs, verdicts)`` when ``path`` holds many runs (a folder, a multi-run JSONL file
    such as an OpenHands output.jsonl), else None; the verdicts come from the harness
    reports in the folder and ``report``; ``instance`` (--instance) names the task of runs
    whose files record none. UserError when a folder holds no run. ``refs.skipped``: the
    files found there that are not runs, each with why."""
    from trajscope.engine.formats import FormatError
    from trajscope.engine.formats.collection import find_runs, find_verdicts, jsonl_runs

    path = Path(path)
    try:
        if path.is_dir():
            refs = find_runs(path)
        elif path.suffix == ".jsonl" and path.is_file() and (found := jsonl_runs(path)):
            refs = found
        else:
            return None
        verdicts = find_verdicts(path) if path.is_dir() else {}
        if report:
            verdicts |= find_verdicts(report)
    except FormatError as exc:
        raise UserError(str(exc)) from None
    for ref in refs:
        ref.instance = instance
    return refs, verdicts


def load_one(path: str | Path, report: str | None = None, instance: str | None = None):
    """One file's run, with the task ``instance`` names where the file records none and the
    verdicts of the harness report ``report``."""
    from trajscope.engine.formats import load
    from trajscope.engine.formats.collection import apply_verdicts, find_verdicts, name_instance

    loaded = load(path)
    if instance and not name_instance(loaded.events, instance):
        print(f"trajscope: {path} records its own instance; --instance {instance} is not used", file=sys.stderr)
    if report:
        apply_verdicts(loaded.events, find_verdicts(report))
    return loaded


def add_instance_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--instance",
        metavar="ID",
        help="the SWE-bench instance of runs whose files do not record "
        "one (a SWE-agent .traj without its config, DARS trees), so harness verdicts match them",
    )


def add_report_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--report",
        metavar="PATH",
        help="a SWE-bench harness report (or a folder of them) whose "
        "verdicts the runs' submissions get; a folder's own reports are read anyway",
    )
