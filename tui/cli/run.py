"""``trajscope run``: one linear rollout (a Session with the linear strategy), headless with
progress or followed live in the viewer."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

from trajscope.tui.cli.common import (
    add_out_option,
    add_policy_options,
    add_task_arguments,
    add_theme_option,
    check_out_log,
    default_out,
    sandbox_words,
)


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="one linear rollout of an agent on a task, verified at the end")
    add_task_arguments(p)
    add_policy_options(p)
    p.add_argument("--max-steps", type=int, default=30)
    add_out_option(p)
    p.add_argument("--headless", action="store_true", help="print progress and a JSON result instead of the viewer")
    add_theme_option(p)


def result_json(task, result, tree, out: Path, wall_s: float, sandbox: str = "") -> dict:
    node = tree.nodes.get(result.submitted) if result.submitted else None
    verified = (node.verified or {}) if node else {}
    return {
        "instance_id": task.instance_id,
        "reason": result.reason,
        "steps": result.steps,
        "submitted": result.submitted,
        "resolved": bool(verified.get("resolved")),
        "verdict": node.verdict if node else None,
        "verified": verified or None,
        "patch": result.patch,
        "error": result.error or None,
        "tokens_in": tree.tokens_in,
        "tokens_out": tree.tokens_out,
        "cost": round(tree.cost, 6),
        "sandbox": sandbox,
        "isolated": sandbox != "none",
        "wall_s": round(wall_s, 3),
        "log": str(out),
    }


def run(args) -> int:
    from trajscope.engine.policy.factory import make_policy
    from trajscope.engine.policy_runs import run_linear
    from trajscope.engine.launch import check_demo, pick_sandbox
    from trajscope.engine.tasks import load_task
    from trajscope.tui.errors import UserError

    task = load_task(args.task, args.instance)
    check_demo(args.model, args.teacher, task)
    policy = make_policy(
        args.model,
        api_base=args.api_base,
        api_key=args.api_key,
        temperature=args.temperature,
        tool_mode=args.tool_mode,
        seed=args.seed,
        teacher=args.teacher,
        beta=args.beta,
    )
    sandbox = pick_sandbox(args.sandbox, task)
    out = Path(args.out) if args.out else default_out(task.instance_id)
    check_out_log(out)
    if args.max_steps < 1:
        raise UserError("--max-steps must be at least 1")
    stop = threading.Event()
    outcome: dict = {}

    def work(on_node=None):
        started = time.perf_counter()
        try:
            result, tree = run_linear(
                task,
                policy,
                out,
                sandbox,
                max_steps=args.max_steps,
                timeout=args.timeout,
                seed=args.seed,
                stop=stop,
                on_node=on_node,
                config={"model": args.model, "teacher": args.teacher},
            )
            outcome["result"] = result_json(task, result, tree, out, time.perf_counter() - started, sandbox)
        except Exception as exc:  # shown to the user; the log keeps what was recorded
            outcome["error"] = exc

    if args.headless:
        from rich.console import Console
        from rich.markup import escape

        console = Console(stderr=True)
        console.print(
            f"[bold]{escape(task.instance_id)}[/] with {escape(policy.name)}, {sandbox_words(sandbox)}, log {escape(str(out))}"
        )
        work(on_node=lambda node: _print_node(console, node))
    else:
        from trajscope.engine.files import open_append
        from trajscope.tui.app import TrajscopeApp
        from trajscope.tui.bridge import Source

        open_append(out).close()  # there for the viewer to follow; never made through a link
        thread = threading.Thread(target=work, name="trajscope-run", daemon=True)
        thread.start()
        app = TrajscopeApp(Source(out, follow=True), theme=getattr(args, "theme", None))
        app.run()
        stop.set()
        thread.join(timeout=10)  # the step in flight; the exit handlers remove the sandbox
        if "result" not in outcome and "error" not in outcome:
            print(f"trajscope: stopped; the run log so far is {out}", file=sys.stderr)
            return 130
    if "error" in outcome:
        raise outcome["error"]
    result = outcome["result"]
    if args.headless:
        print(json.dumps(result, indent=2))
    else:  # a person closed the viewer: a few lines for them, the JSON is --headless's
        verdict = {"resolved": "resolved", "unresolved": "not resolved", "error": "verification error"}
        what = (
            f"submitted #{result['submitted']}: {verdict.get(result.get('verdict') or '', 'not verified')}"
            if result["submitted"]
            else f"no submission ({result['reason']})"
        )
        if sandbox == "none":
            print(f"trajscope: {sandbox_words(sandbox)}", file=sys.stderr)
        print(
            f"trajscope: {result['instance_id']}: {what}; {result['steps']} steps, {result['wall_s']:.0f} s\n"
            f"trajscope: log {out}; reopen it with `trajscope open {out}`",
            file=sys.stderr,
        )
    return 0 if result["resolved"] else 1


def _print_node(console, node) -> None:
    from rich.markup import escape

    from trajscope.engine.actions import short_action

    tokens = f"{node.tokens_in}+{node.tokens_out} tokens" if node.tokens_in or node.tokens_out else ""
    colour = "green" if node.exit_code == 0 else "red"
    if node.status == "failed":
        console.print(f"{node.depth:>3} [red]failed: {escape(str(node.status_reason))}[/]")
        return
    width = max(20, console.width - 48)
    console.print(
        f"{node.depth:>3} [cyan]{escape(node.kind):<6}[/] {escape(f'{short_action(node.action, width):<{width}}')} "
        f"[{colour}]exit {node.exit_code}[/] {node.duration_s or 0:5.2f} s {tokens}",
        no_wrap=True,
    )
    if node.kind == "submit":
        console.print("    verifying the submitted patch with the hidden tests in a fresh sandbox…")
