"""A search started from its spec: the session, the selector and the result, the same for
``trajscope search``, a batch's worker process or Ray actor, and a served search
(docs/architecture.md section 5).

Everything here reads a ``SearchSpec``; nothing reads a command line, so whatever runs a
search (a process of the UI's, a worker on another machine) builds it the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

from trajscope.engine.events import read_events
from trajscope.engine.sandbox.base import SandboxError
from trajscope.engine.spec import SearchSpec, SpecError


def oracle_words(on: bool) -> str:
    """What every summary adds when the hidden tests steered the search (``--oracle``): its
    numbers are an upper bound, not a resolve rate; "" when they did not."""
    return " · with --oracle: the hidden tests steered the search, so these numbers used them" if on else ""


def pick_sandbox(choice: str, task) -> str:
    """``auto``: Docker when a daemon answers and the image is there, else local. Local stops
    here, in one sentence, where bubblewrap cannot confine commands: running them unconfined
    is ``none``, the user's choice by name, never a fallback."""
    kind = choice
    if choice == "auto":
        kind = "docker" if task.repo_dir is None else "local"
        if task.repo_dir is not None:
            from trajscope.engine.sandbox import docker as docker_sandbox

            available, _ = docker_sandbox.docker_available()
            if available:
                from trajscope.engine.sandbox.image import image_exists

                if image_exists(task.image or docker_sandbox.BASE_IMAGE):
                    kind = "docker"
    if kind == "local":
        check_confinement()
    return kind


def check_confinement() -> None:
    """SandboxError, before anything is written, when the local sandbox could not confine commands."""
    from trajscope.engine.sandbox.confine import bwrap_status, refusal

    usable, why = bwrap_status(as_other_user=os.geteuid() == 0)
    if not usable:
        raise SandboxError(refusal(why))


def check_demo(model: str, teacher: str | None, task) -> None:
    """SpecError, before anything starts, when the demo policy is asked for on a task without a
    reference fix: it draws every step from ``gold.patch``, so every node would fail."""
    if "demo" in (model, teacher) and not getattr(task, "gold_patch", None):
        option = "--model" if model == "demo" else "--teacher"
        raise SpecError(
            f"{option} demo needs the task's reference fix (gold.patch) and {task.instance_id} has none; "
            f"give {option} provider/model"
        )


def build_session(spec: SearchSpec, task, log: Path, proposes: bool = True):
    """The Session ``spec`` describes on ``task``, writing (or resuming) ``log``; its
    ``run_started`` event records the spec, secrets left out. ``proposes``: its policy will
    propose (False: only a person's edits and submissions may run, so a demo policy with no
    reference fix to draw from is no reason to refuse)."""
    from trajscope.engine.policy.factory import make_policy
    from trajscope.engine.prm.registry import get_scorer
    from trajscope.engine.session import Session

    if proposes:
        check_demo(spec.model, spec.teacher, task)
    scorers = [get_scorer(name, device=spec.device) for name in spec.scorer_names()]
    policy = make_policy(
        spec.model,
        api_base=spec.api_base,
        api_key=spec.api_key,
        temperature=spec.temperature,
        tool_mode=spec.tool_mode,
        seed=spec.seed,
        teacher=spec.teacher,
        beta=spec.beta,
        pace=spec.pace,
    )
    return Session(
        task,
        policy,
        log,
        scorers=scorers,
        sandbox=pick_sandbox(spec.sandbox, task),
        workers=spec.workers,
        budget=spec.budget(),
        config=spec.search_config(),
        seed=spec.seed,
        meta={"spec": spec.to_json()},
    )


def selector(spec: SearchSpec):
    """The selection method (``spec.selector_name()``): prm; tests, with ``judge`` breaking its
    ties when one is given; or judge / rtv with an LLM judge (``judge``, else ``model``)."""
    from trajscope.engine.search import select

    name = spec.selector_name()
    if name == "prm":
        return lambda tree: select.select_prm(tree, spec.oracle)
    if name == "tests" and not spec.judge:
        return lambda tree: select.select_tests(tree, None, spec.oracle)
    model = spec.judge or spec.model
    if model == "demo":
        raise SpecError(f"--select {name} needs a model to judge: give --judge provider/model")
    from trajscope.engine.policy.llm import LLMPolicy

    judge_policy = LLMPolicy(model, api_base=spec.api_base, api_key=spec.api_key)
    judge_policy.check()
    judge = select.LLMJudge(judge_policy)
    if name == "tests":
        return lambda tree: select.select_tests(tree, judge, spec.oracle)
    if name == "judge":
        return lambda tree: select.select_judge(tree, judge, spec.oracle)
    return lambda tree: select.select_rtv(tree, judge, seed=spec.seed, oracle=spec.oracle)


def result_json(session, wall_s: float, choose=None, name: str = "prm") -> dict:
    """What ``trajscope search --headless`` prints: the selected node, its patch and verdict, totals;
    ``oracle``: whether the hidden tests' verdicts steered the search (``--oracle``), so the numbers used them."""
    from trajscope.engine.search.select import select_prm

    tree = session.tree
    oracle = bool(getattr(session.config, "oracle", False))
    selected, pool = (choose or (lambda t: select_prm(t, oracle)))(tree)
    chosen = next((c for c in pool if c.node == selected), None)
    # the same patch's verdict where a twin of the chosen node was verified (an imported
    # submission never is): reported as that node, chosen all the same without it
    if chosen is not None and chosen.verdict_node not in (None, selected):
        selected = chosen.verdict_node
    node = tree.nodes.get(selected) if selected else None
    stats = tree.stats()
    return {
        "instance_id": session.task.instance_id,
        "strategy": session.config.strategy,
        "finished": session.finished,
        "selected": selected,
        "patch": node.patch if node else "",
        "verified": node.verified if node else None,
        "resolved": bool(node and (node.verified or {}).get("resolved")),
        "verdict": node.verdict if node else None,
        "select": name,
        "oracle": oracle,
        "distinct_patches": len(pool),
        "why": (chosen and chosen.facts.get("why")) or None,
        "candidates": [c.to_json() for c in pool],
        "nodes": stats["nodes"],
        "submissions": stats["submissions"],
        "resolved_submissions": stats["resolved"],
        "pruned": stats["pruned"],
        "failed": stats["failed"],
        "tokens_in": stats["tokens_in"],
        "tokens_out": stats["tokens_out"],
        "cost": stats["cost"],
        "sandbox": session.sandbox_kind,
        "isolated": session.sandbox_kind != "none",
        "wall_s": round(wall_s, 3),
        "log": str(session.recorder.log.path),
    }


def recorded_settings(log: Path) -> dict | None:
    """The spec the log's ``run_started`` recorded (or its last resume, which records the spec it
    went on with), checked, as a dict of settings; None for a log written before the spec was
    recorded (it resumes with the options given).

    A log is a file that may come from elsewhere: a strategy it names must be one of the
    table's, never a dotted path that would run a module's code (name it to use it)."""
    from trajscope.engine.search import STRATEGIES

    started = None  # the last resume's settings, else the run's first ones
    for event in read_events(log):
        if event.get("type") == "run_started" and started is None:
            started = event
        elif event.get("type") == "command" and event.get("name") == "resume_search" and "config" in event:
            started = event
    config = started.get("config") if started else None
    recorded = config.get("spec") if isinstance(config, dict) else None
    if recorded is None:
        return None
    where = f"the settings {log} recorded"
    if not isinstance(recorded, dict):
        raise SpecError(f"{where} are not a mapping of settings")
    strategy = recorded.get("strategy", "dars")
    if not isinstance(strategy, str):
        raise SpecError(f"{where} name a strategy that is not a string")
    if strategy not in STRATEGIES:  # checked before the spec is built: building it would import a path
        raise SpecError(
            f"{where} name the strategy {str(strategy)[:100]!r}, which is not one of trajscope's; "
            "name it with --strategy to resume with it"
        )
    _check_recorded_names(recorded, where)
    settings = SearchSpec.from_json(recorded, where).to_json()
    return {k: v for k, v in settings.items() if k in recorded and k != "version"}


def _check_recorded_names(recorded: dict, where: str) -> None:
    """The policies and scorers a log names are the tables' own: a name that is a dotted path
    would import a module the log chose (name it on the command line to use it)."""
    from trajscope.engine.policy.factory import POLICIES
    from trajscope.engine.prm.registry import SCORERS

    names = [(POLICIES, recorded.get(f)) for f in ("model", "teacher", "judge")]
    prm = recorded.get("prm")
    if isinstance(prm, str) and prm != "none":
        names += [(SCORERS, n) for n in prm.split(",")]
    for table, name in names:
        if not isinstance(name, str) or not name or (table is POLICIES and "/" in name):
            continue  # no name, or a model string litellm reads (no code of ours is imported)
        try:
            table.resolve(name, paths=False)
        except Exception as exc:  # noqa: BLE001 - the table's own error: one sentence either way
            raise SpecError(
                f"{where} name the {table.kind} {name[:100]!r}, which is not one of trajscope's; "
                f"name it with the command line to resume with it ({exc})"
            ) from None
