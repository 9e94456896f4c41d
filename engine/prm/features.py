"""What scorers read from a trace: test results, edits, errors, repeats; and hashed tokens.

The tokenizer needs no vocabulary file and no network: words, numbers and
punctuation, lower-cased, numbers folded to their length (so timings do not
matter), unigrams and bigrams hashed into a fixed number of buckets.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

from trajscope.engine.actions import classify
from trajscope.engine.trace import Step

_SUMMARY = re.compile(r"(\d+) (passed|failed|errors?|error)\b")
_TEST_COMMAND = re.compile(r"\b(pytest|py\.test|unittest|tox|nox|make\s+test|manage\.py\s+test)\b")
_ERROR = re.compile(
    r"Traceback \(most recent call last\)|\b\w*Error\b|^error: |No such file|command not found", re.MULTILINE
)
EDIT_KINDS = ("edit", "append", "create")


def test_summary(text: str) -> tuple[int, int] | None:
    """(passed, failed) from a pytest-style summary, or None when the text has none."""
    found = _SUMMARY.findall(text or "")
    if not found:
        return None
    passed = sum(int(n) for n, word in found if word == "passed")
    failed = sum(int(n) for n, word in found if word != "passed")
    return passed, failed


def is_test_run(step: Step) -> bool:
    return step.action.tool == "bash" and bool(_TEST_COMMAND.search(str(step.action.args.get("command", ""))))


def has_error(step: Step) -> bool:
    return step.exit_code not in (0, None) or bool(_ERROR.search(step.observation or ""))


def exit_of(step: Step) -> int | None:
    """A step's exit code; an imported step records none (SWE-agent, DARS, moatless), so what
    it printed stands in: 1 when it shows an error, 0 when it printed anything else, None when
    it printed nothing (a candidate not run yet, or a silent imported step)."""
    if step.exit_code is not None:
        return step.exit_code
    if not step.observation:
        return None
    return 1 if _ERROR.search(step.observation) else 0


def signature(step: Step) -> str:
    return f"{step.action.tool}:{sorted(step.action.args.items())}"


@dataclass(slots=True)
class TraceFacts:
    """Facts about a path (the candidate included), shared by the heuristic and the rubric flags."""

    steps: int
    edits: int
    last_edit: int  # index, -1 when none
    test_after_edit: tuple[int, int] | None  # (passed, failed) of the last test run after the last edit
    check_after_edit: int | None  # exit code of the last command run after the last edit (tests or a script)
    tests_before_edit: tuple[int, int] | None
    repeats: int  # steps identical to an earlier one
    errors: int
    candidate_error: bool
    submits: bool


def facts(steps: list[Step]) -> TraceFacts:
    kinds = [classify(s.action.to_dict()) for s in steps]
    edit_idx = [i for i, k in enumerate(kinds) if k in EDIT_KINDS and steps[i].exit_code in (0, None)]
    last_edit = edit_idx[-1] if edit_idx else -1
    after = before = check = None
    for i, step in enumerate(steps):
        code = exit_of(step)
        if i > last_edit >= 0 and kinds[i] == "run" and code is not None:
            check = code
        if is_test_run(step) and code is not None:
            summary = test_summary(step.observation) or ((0, 1) if code else (1, 0))
            if i > last_edit >= 0:
                after = summary
            elif last_edit < 0 or i < last_edit:
                before = summary
    seen, repeats = set(), 0
    for step in steps:
        sig = signature(step)
        repeats += sig in seen
        seen.add(sig)
    errors = sum(has_error(s) for s in steps if not is_test_run(s))
    last = steps[-1] if steps else None
    return TraceFacts(
        len(steps),
        len(edit_idx),
        last_edit,
        after,
        check,
        before,
        repeats,
        errors,
        bool(last and exit_of(last) is not None and not is_test_run(last) and has_error(last)),
        bool(last and kinds[-1] == "submit"),
    )


# --- hashed tokens --------------------------------------------------------------------

_TOKEN = re.compile(r"[a-z_]+|\d+|[^\sa-z_\d]")


def tokens(text: str) -> list[str]:
    out = []
    for tok in _TOKEN.findall(text.lower()):
        out.append(f"#{len(tok)}" if tok[0].isdigit() else tok)
    return out


def hashed(words: list[str], buckets: int, reserved: int = 1, bigrams: bool = True) -> list[int]:
    """Bucket ids of the unigrams (and bigrams) of ``words``; ids below ``reserved`` are never used."""
    span = buckets - reserved
    ids = [reserved + zlib.crc32(w.encode()) % span for w in words]
    if bigrams:
        ids += [reserved + zlib.crc32(f"{a} {b}".encode()) % span for a, b in zip(words, words[1:])]
    return ids


def clip(text: str, head: int, tail: int) -> str:
    return text if len(text) <= head + tail else text[:head] + " … " + text[-tail:]
