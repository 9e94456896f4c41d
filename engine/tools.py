"""The agent-computer interface's tools run against a sandbox (docs/architecture.md section 4):
each action becomes the observation the model sees next. Commands run in the sandbox; the file
tools (view, search, str_replace, insert, create) read and write through its protocol, never
the host's paths."""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass

from trajscope.engine.actions import Action, ActionError

SEARCH_CAP = 100
"""Matches ``search`` shows before it asks for a narrower pattern."""
VIEW_CAP = 400
"""Lines ``view`` shows when no range is given."""


@dataclass(slots=True)
class Observation:
    """What an action did: the text the model sees next and how the command ended."""

    text: str
    exit_code: int = 0
    duration: float = 0.0
    timed_out: bool = False
    truncated: bool = False


def _numbered(lines: list[str], first: int) -> str:
    width = len(str(first + len(lines)))
    return "".join(
        f"{first + i:>{width}}\t{line if line.endswith(chr(10)) else line + chr(10)}" for i, line in enumerate(lines)
    )


def _excerpt(text: str, start: int, end: int, context: int = 3) -> str:
    """Lines ``start``..``end`` (1-based) of ``text`` with context, numbered."""
    lines = text.splitlines(keepends=True)
    lo, hi = max(1, start - context), min(len(lines), end + context)
    return _numbered(lines[lo - 1 : hi], lo)


def _view(sandbox, path: str, start, end) -> Observation:
    from trajscope.engine.sandbox.base import SandboxError, repo_path

    target = repo_path(path, sandbox.repo)
    try:
        text = sandbox.read(path)
    except SandboxError as exc:
        if not str(exc).endswith("is a directory"):
            raise
        listing = sandbox.run(
            f"cd {shlex.quote(target)} && find . -maxdepth 2 -not -path '*/.*' "
            "-not -name '__pycache__' -not -path '*/__pycache__/*' | sort",
            timeout=30,
        )
        return Observation(listing.output, listing.exit_code, listing.duration)
    lines = text.splitlines(keepends=True)
    if not lines:
        return Observation(f"{path} is empty")
    first = max(1, int(start or 1))
    last = min(len(lines), int(end) if end else first + VIEW_CAP - 1)
    if first > len(lines):
        raise ActionError(f"{path} has only {len(lines)} lines")
    body = _numbered(lines[first - 1 : last], first)
    if last < len(lines):
        body += f"[{len(lines) - last} more lines; view with start={last + 1} to see them]\n"
    return Observation(body)


def _search(sandbox, pattern: str, path: str | None) -> Observation:
    from trajscope.engine.sandbox.base import repo_path

    target = repo_path(path or ".", sandbox.repo)
    repo = shlex.quote(sandbox.repo.rstrip("/") or "/")
    # The path is resolved first and must stay in the repository (a link may not lead the
    # search out of it); grep -r follows no link below it and skips FIFOs and devices.
    command = (
        f"t=$(realpath -e -- {shlex.quote(target)}) || exit 2\n"
        f"r=$(realpath -e -- {repo})\n"
        'case "$t/" in "$r"/*) ;; *) echo \'trajscope: the path leads outside the repository\'; exit 3;; esac\n'
        'cd "$r" && if [ "$t" = "$r" ]; then t=.; else t=${t#"$r"/}; fi\n'
        f"grep -rnIE -D skip --exclude-dir=.git --exclude-dir=__pycache__ -e {shlex.quote(pattern)} "
        f'-- "$t" | head -n {SEARCH_CAP + 1}'
    )
    result = sandbox.run(command, timeout=60)
    if result.exit_code == 3 and "leads outside" in result.output:
        raise ActionError(f"{path} leads outside the repository")
    lines = [line.removeprefix("./") for line in result.output.splitlines() if line.strip()]
    if not lines:
        return Observation(f"no matches for {pattern!r} in {path or 'the repository'}", 1, result.duration)
    text = "\n".join(lines[:SEARCH_CAP]) + "\n"
    if len(lines) > SEARCH_CAP:
        text += f"[more than {SEARCH_CAP} matches; narrow the pattern or the path]\n"
    return Observation(text, 0, result.duration)


def _str_replace(sandbox, path: str, old: str, new: str) -> Observation:
    if not old:
        raise ActionError("str_replace needs a non-empty `old` text")
    text = sandbox.read(path)
    count = text.count(old)
    if count == 0:
        raise ActionError(
            f"the `old` text was not found in {path}; view the file and copy the lines exactly, whitespace included"
        )
    if count > 1:
        raise ActionError(
            f"the `old` text occurs {count} times in {path}; include more surrounding lines so that it occurs once"
        )
    at = text.index(old)
    updated = text[:at] + new + text[at + len(old) :]
    sandbox.write(path, updated)
    start = text.count("\n", 0, at) + 1
    return Observation(f"Edited {path}. It now reads:\n" + _excerpt(updated, start, start + new.count("\n")))


def _insert(sandbox, path: str, line: int, text: str) -> Observation:
    content = sandbox.read(path)
    lines = content.splitlines(keepends=True)
    if not 0 <= line <= len(lines):
        raise ActionError(f"line must be between 0 and {len(lines)} (the length of {path})")
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    block = text if text.endswith("\n") else text + "\n"
    updated = "".join(lines[:line]) + block + "".join(lines[line:])
    sandbox.write(path, updated)
    return Observation(
        f"Inserted {block.count(chr(10))} lines into {path}. It now reads:\n"
        + _excerpt(updated, line + 1, line + block.count("\n"))
    )


def _create(sandbox, path: str, content: str) -> Observation:
    from trajscope.engine.sandbox.base import SandboxError

    try:
        sandbox.read(path)
    except SandboxError as exc:
        if str(exc).endswith("is a directory"):
            raise ActionError(f"{path} is a directory") from None
    else:
        raise ActionError(f"{path} already exists; use str_replace or insert to change it")
    sandbox.write(path, content)
    return Observation(f"Created {path} ({content.count(chr(10)) + (not content.endswith(chr(10)))} lines).")


def execute(action: Action, sandbox, timeout: float = 120.0) -> Observation:
    """Run ``action`` in ``sandbox``. Mistakes (a missing file, a non-unique ``old``, a path
    outside the repository) come back as an observation with exit code 1 for the model to read;
    a broken sandbox raises SandboxError."""
    from trajscope.engine.sandbox.base import PathOutsideRepo, SandboxError

    started = time.perf_counter()
    args = action.args
    try:
        if action.tool == "bash":
            result = sandbox.run(str(args.get("command", "")), timeout=timeout)
            text = result.output
            if result.timed_out:
                text += f"\n[the command did not finish in {timeout:g} s and was stopped]\n"
            return Observation(text, result.exit_code, result.duration, result.timed_out, result.truncated)
        if action.tool == "view":
            obs = _view(sandbox, args["path"], args.get("start"), args.get("end"))
        elif action.tool == "search":
            obs = _search(sandbox, args["pattern"], args.get("path"))
        elif action.tool == "str_replace":
            obs = _str_replace(sandbox, args["path"], args["old"], args["new"])
        elif action.tool == "insert":
            obs = _insert(sandbox, args["path"], int(args["line"]), args["text"])
        elif action.tool == "create":
            obs = _create(sandbox, args["path"], args["content"])
        elif action.tool == "submit":
            patch = sandbox.diff()
            obs = Observation(patch if patch.strip() else "(no changes to submit)")
        else:
            raise ActionError(f"unknown tool {action.tool!r}")
    except (ActionError, PathOutsideRepo) as exc:
        obs = Observation(f"error: {exc}", 1)
    except SandboxError as exc:
        message = str(exc)
        if (
            not message.endswith(("does not exist", "is a directory", "is not a regular file", "look at it with bash"))
            and "cannot be" not in message
        ):
            raise
        obs = Observation(f"error: {message}", 1)
    obs.duration = obs.duration or time.perf_counter() - started
    return obs
