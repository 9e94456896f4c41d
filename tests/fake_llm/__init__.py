"""The tests' model: an OpenAI-compatible server on 127.0.0.1 that plays a script, with
faults, for tests only. All model-facing tests send real HTTP requests to it through
litellm. It is ``engine.policy.simulated.ModelServer`` (which ``prm collect`` and the
search benchmark use) plus what only tests need: scripted replies, recorded requests,
and faults (error codes with messages and headers, hangs, no ``n``, no tools)."""

from __future__ import annotations

import time

from trajscope.engine.policy.simulated import ModelServer, Solver

__all__ = ["FakeLLM", "Scripted", "Solver", "reply", "turn"]


def reply(tool: str | None = None, thought: str = "", text: str | None = None, **args) -> dict:
    """One scripted reply: a tool call, or plain text."""
    return {"text": text} if tool is None else {"tool": tool, "args": args, "thought": thought}


def turn(request: dict) -> int:
    """How many turns the conversation has had: the assistant messages so far."""
    return sum(1 for m in request["messages"] if m.get("role") == "assistant")


class Scripted:
    """Replies from a list, by turn; the last reply repeats when the list runs out."""

    def __init__(self, replies: list[dict]):
        self.replies = replies

    def __call__(self, request: dict, index: int) -> dict:
        return self.replies[min(turn(request), len(self.replies) - 1)]


class FakeLLM(ModelServer):
    """Faults are consumed one per request, in order: an HTTP status (429, 500, 503, 401),
    or ``(status, message[, headers])``, answers with that error; ``"hang"`` waits
    ``hang_s`` before answering, so a client with a shorter timeout gives up."""

    def __init__(
        self,
        script,
        faults: list | None = None,
        hang_s: float = 3.0,
        delay_s: float = 0.0,
        ignore_n: bool = False,
        reject_tools: bool = False,
    ):
        super().__init__(script, delay_s)
        self.faults, self.hang_s = list(faults or []), hang_s
        self.ignore_n, self.reject_tools = ignore_n, reject_tools
        self.requests: list[dict] = []

    def choices(self, body: dict) -> int:
        return 1 if self.ignore_n else super().choices(body)

    def handle(self, path: str, body: dict) -> tuple[int, dict]:
        with self.lock:
            self.requests.append(body)
            fault = self.faults.pop(0) if self.faults else None
        if not path.rstrip("/").endswith("/chat/completions"):
            return 404, {"error": {"message": f"no route {path}", "type": "not_found"}}
        if fault == "hang":
            time.sleep(self.hang_s)
        elif isinstance(fault, (int, tuple)):
            code, message, headers = (
                (tuple(fault) + ({},))[:3] if isinstance(fault, tuple) else (fault, f"injected {fault}", {})
            )
            kind = {429: "rate_limit_exceeded", 401: "invalid_api_key"}.get(code, "server_error")
            return code, {"error": {"message": message, "type": kind, "code": kind}, "_headers": headers}
        if self.reject_tools and body.get("tools"):
            return 400, {"error": {"message": "this model does not support tools", "type": "invalid_request_error"}}
        return super().handle(path, body)
