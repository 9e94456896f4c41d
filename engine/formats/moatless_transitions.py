"""MoatlessTools "transitions" trajectories: the layout moatless-tools wrote before its
search trees (``name: "MoatlessTools"``, ``initial_message``, ``transitions``, ``info``),
the one published with its SWE-bench submissions.

A run of it is a state machine walked once: each transition is a state (SearchCode,
IdentifyCode, DecideRelevance, PlanToCode, ClarifyCodeChange, EditCode, then Finished or
Rejected) holding the model's ``actions`` (a ``request`` and the ``response`` it got).
There is no branch, so it opens as a linear run: one node per action, its request as
the action and its response as what it printed. ``info.instance_id`` names the task and
``info.submission`` is the patch submitted at the last step.
"""

from __future__ import annotations

from trajscope.engine.formats.builder import Importer, RunBuilder
from trajscope.engine.jsonio import text_of

# Each state's requests, as trajscope tools and kinds (a state not named here keeps its
# own name as the tool, and no kind).
_KINDS = {
    "SearchCode": ("search", "search"),
    "IdentifyCode": ("identify", "view"),
    "DecideRelevance": ("decide", "view"),
    "ClarifyCodeChange": ("clarify", "view"),
    "ExpandContext": ("expand", "view"),
    "EditCode": ("edit", "edit"),
}
_END = {"Finished", "Rejected"}


def looks_like(data: object) -> bool:
    return (
        isinstance(data, dict)
        and isinstance(data.get("transitions"), list)
        and ("initial_message" in data or text_of(data.get("name") or "") == "MoatlessTools")
    )


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _search(request: dict) -> str:
    found = []
    for ask in request.get("search_requests") or []:
        ask = _dict(ask)
        names = [*(ask.get("class_names") or []), *(ask.get("function_names") or [])]
        what = text_of(ask.get("query") or ask.get("code_snippet") or " ".join(map(text_of, names)))
        where = text_of(ask.get("file_pattern") or "")
        found.append(f"{what} in {where}" if where else what)
    return "; ".join(f for f in found if f)


def _action(state: str, request: dict, response: dict, properties: dict) -> tuple[dict, str | None]:
    """(trajscope action, kind) of one request made in ``state``."""
    args = {k: v for k, v in request.items() if k != "scratch_pad"}
    verb = text_of(request.get("action") or "")
    path = text_of(request.get("file_path") or properties.get("file_path") or "")
    if state == "PlanToCode":
        if verb == "finish" or text_of(response.get("trigger") or "") == "finish":
            return {"tool": "submit", "args": args, "raw": "submit"}, "submit"
        return {"tool": "plan", "args": args, "raw": f"plan {verb or 'change'} {path}".strip()}, None
    tool, kind = _KINDS.get(state, (state or "action", None))
    if state == "SearchCode":
        raw = f"search {_search(request)}".strip()
    elif state == "IdentifyCode":
        spans = [_dict(s) for s in request.get("identified_spans") or []]
        raw = "identify " + ", ".join(text_of(s.get("file_path") or "") for s in spans if s.get("file_path"))
    elif state == "EditCode":
        lines = (
            f" {properties.get('start_line')}-{properties.get('end_line')}"
            if properties.get("start_line") is not None
            else ""
        )
        return {
            "tool": "str_replace_editor",
            "args": {"command": "str_replace", "path": path, **args},
            "raw": f"edit {path}{lines}",
        }, kind
    else:
        raw = f"{tool} {path}".strip()
    return {"tool": tool, "args": args, "raw": raw.strip()}, kind


def _observation(response: dict) -> str:
    output = response.get("output")
    if not isinstance(output, dict):
        return text_of(output or response.get("trigger") or "")
    parts = [text_of(output.get("message") or "")]
    spans = [_dict(s) for s in output.get("ranked_spans") or []]
    parts += [f"{text_of(s.get('file_path') or '')} {text_of(s.get('span_id') or '')}" for s in spans]
    if output.get("diff"):
        parts.append(text_of(output["diff"]))
    if output.get("instructions"):
        parts.append(text_of(output["instructions"]))
    return "\n".join(p for p in parts if p) or text_of(response.get("trigger") or "")


def _usage(action: dict) -> tuple[int, int, float]:
    usage = _dict(_dict(action.get("completion")).get("usage"))
    try:
        return (
            int(usage.get("prompt_tokens") or 0),
            int(usage.get("completion_tokens") or 0),
            float(usage.get("completion_cost") or 0.0),
        )
    except (TypeError, ValueError):
        return 0, 0, 0.0


def convert(data: dict, name: str) -> list[dict]:
    info = _dict(data.get("info"))
    instance = text_of(info.get("instance_id") or name)
    task = {"instance_id": instance, "problem_statement": text_of(data.get("initial_message") or "")}
    builder = RunBuilder(name, task, "moatless")
    model = _dict(_dict(data.get("transition_rules")).get("global_params")).get("model")
    if model:
        builder.events[0]["config"]["model"] = text_of(model)
    node, ended = None, None
    for transition in data["transitions"]:
        transition = _dict(transition)
        state = text_of(transition.get("name") or "")
        ended = state if state in _END else ended
        properties = _dict(transition.get("properties"))
        for action in transition.get("actions") or []:
            action = _dict(action)
            request, response = _dict(action.get("request")), _dict(action.get("response"))
            step, kind = _action(state, request, response, properties)
            tokens_in, tokens_out, cost = _usage(action)
            node = builder.turn(
                node,
                step,
                thought=text_of(request.get("scratch_pad") or ""),
                kind=kind,
                observation=_observation(response),
                tokens_in=tokens_in,
                tokens_out=tokens_out,
                cost=cost,
            )
    patch = text_of(info.get("submission") or "")
    if node is not None and patch:
        builder.submit(node, patch.replace("\r\n", "\n").strip("\n") + "\n")
    cost = info.get("total_cost")
    totals = {"cost": float(cost)} if isinstance(cost, (int, float)) and not isinstance(cost, bool) else None
    reason = ended or text_of(info.get("status") or "")
    if reason and node is not None and not patch:
        reason += " (the file records no submission)"
    return builder.finish(reason or None, totals)


IMPORTER = Importer("MoatlessTools transitions", "no action in `transitions`", looks_like, convert)
