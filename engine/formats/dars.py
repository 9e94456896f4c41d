"""DARS-Agent files: ``.root`` search trees and ``overall_evaluation_results.json``.

A ``.root`` tree holds one chat message per node.  A trajectory turn is an
assistant message plus the observation (user message) that follows it; branches
hang off observations.  Where DARS took a branch, the new assistant node carries
the sampled ``expansion_candidates`` and the critic's prompt and answer.
"""

from __future__ import annotations

import re

from trajscope.engine.actions import action_from_command
from trajscope.engine.jsonio import text_of
from trajscope.engine.formats.builder import Importer, RunBuilder, extract_patch

_RESOLVED = re.compile(r"Instances resolved:\s*(\d+)")
_DIRECTORY = re.compile(r"\(Current directory: /([\w.-]+)")


def looks_like_tree(data: object) -> bool:
    root = data.get("root") if isinstance(data, dict) else None
    return isinstance(root, dict) and "role" in root and "children" in root


def looks_like_evaluation(data: object) -> bool:
    return (
        isinstance(data, list)
        and bool(data)
        and all(isinstance(e, dict) and "run_id" in e and "content" in e and "output" in e for e in data)
    )


def _candidate_text(candidate: object) -> str:
    if isinstance(candidate, list):
        return "\n".join(map(text_of, candidate))
    return text_of(candidate)


def _problem_statement(root: dict) -> str:
    stack = [root]
    while stack:
        message = stack.pop()
        if message.get("role") == "user" and not message.get("is_demo"):
            return text_of(message.get("content") or "")
        if message.get("role") == "assistant":
            continue
        stack.extend(reversed(message.get("children") or []))
    return ""


def _task(data: dict, root: dict, name: str) -> dict:
    """The task of a tree, read from its content: DARS writes one tree per expansion kind
    (``none.prev.root``, ``edit.prev.root``...) and records no SWE-bench instance id, so the
    file name names no task. The trees of one instance share their repository (the
    directory its observations name) and their issue: the task is named by both."""
    statement = _problem_statement(root)
    recorded = text_of(data.get("instance_id") or "")
    if recorded:
        return {"instance_id": recorded, "problem_statement": statement}
    repo = None
    stack = [root]
    while stack and repo is None:
        message = stack.pop()
        if message.get("role") != "assistant" and not message.get("is_demo"):
            found = _DIRECTORY.search(text_of(message.get("content") or ""))
            repo = found.group(1) if found else None
        stack.extend(reversed([c for c in message.get("children") or [] if isinstance(c, dict)]))
    if not statement:
        return {"instance_id": name, "problem_statement": ""}
    import hashlib  # OpenSSL's: only a DARS file needs it

    digest = hashlib.sha1(statement.encode("utf-8", "replace")).hexdigest()[:8]
    # "instance_from": the id is trajscope's, not the harness's: --instance may name it.
    return {"instance_id": f"{repo or 'issue'}:{digest}", "problem_statement": statement, "instance_from": "content"}


def convert_tree(data: dict, name: str) -> list[dict]:
    root = data["root"]
    builder = RunBuilder(name, _task(data, root, name), "dars")
    # (message, parent turn id): walk messages, emitting a turn at each assistant one.
    stack: list[tuple[dict, str | None]] = [(root, None)]
    while stack:
        message, parent = stack.pop()
        children = [c for c in message.get("children") or [] if isinstance(c, dict)]
        if message.get("role") != "assistant":
            stack.extend((c, parent) for c in reversed(children))
            continue
        observations = [c for c in children if c.get("role") != "assistant"]
        observation = observations[0] if observations else None
        critic = None
        if message.get("critic_prompt") or message.get("critic_response"):
            critic = {
                "prompt": message.get("critic_prompt"),
                "response": message.get("critic_response"),
                "expansion_prompt": message.get("expansion_prompt"),
            }
        candidates = [{"text": _candidate_text(c)} for c in message.get("expansion_candidates") or []]
        command = text_of(message.get("action") or "").strip()
        node = builder.turn(
            parent,
            action_from_command(command),
            thought=text_of(message.get("thought") or message.get("content") or ""),
            observation=text_of(observation.get("content") or "") if observation else None,
            candidates=candidates or None,
            critic=critic,
        )
        if message.get("is_terminal") and command.split()[:1] == ["submit"] and observation:
            builder.submit(node, extract_patch(text_of(observation.get("content") or "")))
        # Later turns hang off the observation(s); take them in file order.
        later = [g for o in observations for g in (o.get("children") or []) if isinstance(g, dict)]
        later += [c for c in children if c.get("role") == "assistant"]
        stack.extend((g, node) for g in reversed(later))
    return builder.finish(None)


def convert_evaluation(data: list, name: str) -> list[dict]:
    """Each evaluated patch becomes a submitted node under the root, with its verdict."""
    builder = RunBuilder(name, {"instance_id": name, "problem_statement": ""}, "dars-evaluation")
    for entry in data:
        found = _RESOLVED.search(text_of(entry.get("output") or ""))
        resolved = bool(found and int(found.group(1)) > 0)
        patch = text_of(entry.get("content") or "")
        node = builder.turn(
            None,
            action_from_command("submit"),
            thought=f"evaluation {entry.get('run_id')}: {entry.get('status')}",
            observation=text_of(entry.get("output") or ""),
            kind="submit",
        )
        builder.submit(node, extract_patch(patch) or patch, {"resolved": resolved, "run_id": entry.get("run_id")})
    return builder.finish("evaluated")


TREE = Importer("DARS tree", "no assistant message under `root`", looks_like_tree, convert_tree)
EVALUATION = Importer("DARS evaluation", "no evaluated patch", looks_like_evaluation, convert_evaluation)
