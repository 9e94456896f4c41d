"""What the fold takes from a log: each known field of an event must have its type; a
field of another type is left out and counted, never trusted (a damaged or hand-made log
must not break the app)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FoldCounts:
    """Events the fold could not use (a reference to a node it does not know), and fields
    it left out because their type was wrong (a string where a number or object belongs)."""

    dangling: int = 0
    duplicate: int = 0
    bad_fields: int = 0


def _number(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and value == value
        and value not in (float("inf"), float("-inf"))
    )


# The type each known event field must have; a field of another type is left out of the
# fold (and counted), never trusted: a damaged or hand-made log must not break the app.
_FIELD_CHECKS = {
    **dict.fromkeys(
        ("task", "config", "critic", "verified", "totals", "budget", "visible", "repro"), lambda v: isinstance(v, dict)
    ),
    **dict.fromkeys(("candidates", "tests", "regressions", "commands"), lambda v: isinstance(v, list)),
    "n_regressions": lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**31,
    "action": lambda v: isinstance(v, dict),
    **dict.fromkeys(
        ("tokens_in", "tokens_out", "cost", "duration_s", "score"), lambda v: _number(v) and abs(v) < 2**53
    ),
    "exit_code": lambda v: isinstance(v, int) and not isinstance(v, bool) and abs(v) < 2**31,
    **dict.fromkeys(
        (
            "thought",
            "observation",
            "patch",
            "summary",
            "reason",
            "by",
            "kind",
            "proposer",
            "state_ref",
            "diff_stat",
            "rationale",
            "status",
            "scorer",
            "name",
            "hint",
            "result",
            "requested_by",
            "key",
        ),
        lambda v: isinstance(v, str),
    ),
}


# A run_finished's totals: each must be a number like a node's own tokens and cost (Tree.stats
# adds them up), or it is left out and counted like any other field of the wrong type.
_TOTALS = ("tokens_in", "tokens_out", "cost", "api_calls")


def _clean_totals(totals: dict, counts: FoldCounts) -> dict:
    bad = [k for k in _TOTALS if totals.get(k) is not None and not _FIELD_CHECKS["cost"](totals[k])]
    if not bad:
        return totals
    counts.bad_fields += len(bad)
    return {k: v for k, v in totals.items() if k not in bad}


def _clean_action(action: dict) -> dict | None:
    """The action with a string tool, an object of args and a string raw text (or None)."""
    if not isinstance(action.get("tool"), str):
        return None
    if isinstance(action.get("args", {}), dict) and isinstance(action.get("raw", ""), (str, type(None))):
        return action
    fixed = {**action, "args": action.get("args") if isinstance(action.get("args"), dict) else {}}
    if not isinstance(fixed.get("raw"), str):
        fixed.pop("raw", None)
    return fixed


def clean_event(event: dict, counts: FoldCounts) -> dict:
    """``event`` with every field of the wrong type left out (counted in ``counts``)."""
    checks = _FIELD_CHECKS  # by the event's own keys: an event has a few of the thirty checked fields
    bad = [k for k, v in event.items() if v is not None and k in checks and not checks[k](v)]
    if isinstance(event.get("action"), dict):
        fixed = _clean_action(event["action"])
        if fixed is None:
            bad.append("action")
        elif fixed is not event["action"]:
            event = {**event, "action": fixed}
            counts.bad_fields += 1
    if isinstance(event.get("totals"), dict):
        totals = _clean_totals(event["totals"], counts)
        if totals is not event["totals"]:
            event = {**event, "totals": totals}
    if not bad:
        return event
    counts.bad_fields += len(bad)
    return {k: v for k, v in event.items() if k not in bad}
