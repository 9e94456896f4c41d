"""``trajscope bench replay``: the time to rebuild the state at a step of an imported run.

A mini-swe-agent trajectory of the longest depth asked for is recorded first on a bundled
task (its commands run once in a sandbox, their outputs kept as the record: reads, greps,
appends, in-place edits and Python runs, in turn). Then, for each depth, in a fresh
sandbox: the state rebuilt by replaying every step from the base with the check against
the record (what a first branch from that step costs), and the same state restored from
the snapshot the replay took on the way (what a second branch from the same run costs;
the goal is under 1 s). Medians of ``--repeat`` runs.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path

from trajscope.demo_data import TASKS

BENCH_TASK = TASKS / "semver-prerelease"


def add_options(p) -> None:
    p.add_argument("--depths", default="10,50,100", help="the steps to rebuild, comma-separated")
    p.add_argument("--repeat", type=int, default=3, help="runs per depth; medians are reported")
    p.add_argument("--sandbox", default="local", choices=["local", "docker"], help="where the steps run")
    p.add_argument("--json", action="store_true", help="one JSON object instead of a table")


def _commands(n: int) -> list[str]:
    commands = []
    for i in range(n):
        step = i % 5
        if step == 0:
            commands.append("grep -rn 'prerelease' semverlite | head -20")
        elif step == 1:
            commands.append("cat semverlite/version.py | head -40")
        elif step == 2:
            commands.append(f"printf 'VALUE_{i} = {i}\\n' >> semverlite/notes.py && wc -l semverlite/notes.py")
        elif step == 3:
            commands.append(f"sed -i 's/^VALUE_{i - 1} = .*/VALUE_{i - 1} = {i * 10}/' semverlite/notes.py")
        else:
            commands.append("python3 -c 'import semverlite.notes as n; print(len(dir(n)))'")
    return commands


def record(task, n: int, kind: str, folder: Path) -> Path:
    """A mini-swe-agent 1.1 trajectory of ``n`` steps whose outputs are what they printed here."""
    messages = [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Fix it."}]
    box = task.open_sandbox(kind)
    try:
        for command in _commands(n):
            result = box.run(command, timeout=60)
            messages.append({"role": "assistant", "content": f"Next.\n\n```bash\n{command}\n```"})
            messages.append(
                {
                    "role": "user",
                    "content": f"<returncode>{result.exit_code}</returncode>\n<output>\n{result.output}</output>",
                }
            )
    finally:
        box.close()
    path = folder / "bench.traj.json"
    info = {"exit_status": "LimitsExceeded", "submission": ""}
    path.write_text(json.dumps({"trajectory_format": "mini-swe-agent-1.1", "info": info, "messages": messages}))
    return path


def measure(task, run: Path, depth: int, kind: str) -> dict:
    from trajscope.engine.formats import load
    from trajscope.engine.replay import Replayer
    from trajscope.engine.tree import Tree

    tree = Tree.fold(load(run).events)
    box = task.open_sandbox(kind)
    try:
        replayer = Replayer(tree, box, timeout=60)
        first = replayer.rebuild(str(depth))
        again = replayer.rebuild(str(depth))
    finally:
        box.close()
    assert again.replayed == 0
    return {"replay_s": first.seconds, "restore_s": again.seconds, "diverged": first.divergence is not None}


def run(args) -> int:
    from trajscope.engine.tasks import load_task_dir

    depths = sorted({int(d) for d in args.depths.split(",") if d.strip()})
    task = load_task_dir(BENCH_TASK)
    rows = []
    with tempfile.TemporaryDirectory(prefix="trajscope-bench-replay-") as folder:
        trajectory = record(task, max(depths), args.sandbox, Path(folder))
        for depth in depths:
            samples = [measure(task, trajectory, depth, args.sandbox) for _ in range(max(1, args.repeat))]
            rows.append(
                {
                    "depth": depth,
                    "replay_s": round(statistics.median(s["replay_s"] for s in samples), 3),
                    "restore_s": round(statistics.median(s["restore_s"] for s in samples), 3),
                    "diverged": any(s["diverged"] for s in samples),
                    "runs": len(samples),
                }
            )
    if args.json:
        print(json.dumps({"sandbox": args.sandbox, "task": BENCH_TASK.name, "rows": rows}, indent=2))
        return 0
    print(f"rebuilding the state at a step of an imported run ({args.sandbox} sandbox, {BENCH_TASK.name}; medians)")
    print(f"{'depth':>6} {'replay s':>10} {'restore s':>10}  diverged")
    for row in rows:
        print(f"{row['depth']:>6} {row['replay_s']:>10.3f} {row['restore_s']:>10.3f}  {row['diverged']}")
    return 0
