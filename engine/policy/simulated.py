"""A simulated model: ``Solver`` plays the demo policy's bank for a task as a model would
(tool calls or the text format, ``n`` choices, a chance of the wrong fix; a noisy reproduction
test when asked for one), and
``ModelServer`` serves any such script at ``/v1/chat/completions`` with ``usage``, so
the real client (litellm over HTTP) talks to it. ``trajscope prm collect`` and ``trajscope
bench search`` use it; it never reaches a real provider. The tests' double, with faults,
is ``tests.fake_llm.FakeLLM``, built on ``ModelServer``.

A *script* is a callable ``(request: dict, index: int) -> dict`` that returns one
choice's reply: ``{"tool": name, "args": {...}, "thought": str}`` for a tool call, or
``{"text": str}`` for plain content. ``index`` counts the choices of the request (0..n-1).
"""

from __future__ import annotations

import itertools
import json
import random
import re
import shlex
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from trajscope.engine.actions import Action, parse_text
from trajscope.engine.trace import Step
from trajscope.engine.policy.demo import Bank, next_action, reproduction


_EXIT = re.compile(r"^\(exit code (-?\d+)\)\n")


def as_bash(action: Action) -> str:
    """A shell command that does what an editor action does (for the text format)."""
    a = action.args
    if action.tool == "bash":
        return a["command"]
    if action.tool == "view":
        return f"nl -ba {shlex.quote(a['path'])}" if a["path"] != "." else "ls -R"
    if action.tool == "search":
        return f"grep -rnE {shlex.quote(a['pattern'])} ."
    if action.tool == "submit":
        return "submit"
    if action.tool == "create":
        code = f"open({a['path']!r}, 'w').write({a['content']!r})"
        return f"python3 -c {shlex.quote(code)}"
    code = (
        f"import pathlib; p = pathlib.Path({a['path']!r}); s = p.read_text(); "
        f"assert s.count({a['old']!r}) == 1, 'old text not unique'; p.write_text(s.replace({a['old']!r}, {a['new']!r}))"
    )
    return f"python3 -c {shlex.quote(code)}"


class Solver:
    """Plays the demo policy's bank for a task through tool calls (or the text format).

    ``wrong_rate`` is the chance that a first fix is the wrong one; draws are seeded
    by ``seed``, the conversation so far and the choice index, so ``n`` choices differ.
    """

    def __init__(self, task, wrong_rate: float = 0.0, seed: int = 0, mode: str = "tools"):
        self.task, self.wrong_rate, self.seed, self.mode = task, wrong_rate, seed, mode
        self.bank = Bank.for_task(task)
        self._count = itertools.count()
        self._bash = {}

    def steps(self, request: dict) -> list[Step]:
        steps: list[Step] = []
        for m in request["messages"]:
            if m.get("role") == "assistant":
                if m.get("tool_calls"):
                    call = m["tool_calls"][0]["function"]
                    args = json.loads(call["arguments"] or "{}")
                    steps.append(Step(Action(call["name"], args)))
                else:
                    try:
                        _, action = parse_text(m.get("content") or "")
                    except ValueError:
                        continue
                    steps.append(Step(self._bash.get(action.raw, action)))
            elif m.get("role") in ("tool", "user") and steps and steps[-1].exit_code is None:
                content = m.get("content") or ""
                found = _EXIT.match(content)
                steps[-1].observation = content
                steps[-1].exit_code = int(found.group(1)) if found else 0
        return steps

    def __call__(self, request: dict, index: int) -> dict:
        if _asks_for_test(request):
            rng = random.Random(f"{self.seed}|repro|{index}|{next(self._count)}")
            return {"text": f"```python\n{reproduction_test(self.task, rng)}```"}
        steps = self.steps(request)
        key = "|".join(f"{s.action.tool}{s.action.args}" for s in steps)
        rng = random.Random(f"{self.seed}|{key}|{index}|{next(self._count)}")
        thought, action = next_action(self.bank, steps, rng, 1.0 - self.wrong_rate)
        if self.mode == "text":
            command = as_bash(action)
            self._bash[command] = action
            return {"text": f"{thought}\n\n```bash\n{command}\n```"}
        return {"tool": action.tool, "args": action.args, "thought": thought}


REPRO_ASK = "reproduces this issue"
"""What a request for a reproduction test says (engine/search/checks.py's REPRO_PROMPT)."""

REPRO_NOISE = {"right": 0.45, "weak": 0.2, "wrong": 0.15, "vacuous": 0.2}
"""How the simulated model's reproduction tests turn out: right (fails on the bug, passes on
the fix), weak (the issue's example: fails on the bug, passes on any change of its output),
wrong (fails on the bug and on the fix), vacuous (passes everywhere)."""


def _asks_for_test(request: dict) -> bool:
    messages = request.get("messages") or [{}]
    return not request.get("tools") and REPRO_ASK in str(messages[-1].get("content") or "")


REPRO_FROM_ISSUE = "repro_from_issue.py"
"""A task directory's reproduction test written from its issue text alone, beside ``repo/`` (so
no sandbox holds it and no test run collects it): the simulated model's right answer."""


def issue_test(task) -> str:
    """The test a model could write from ``task``'s issue (REPRO_FROM_ISSUE), "" when the task
    has none. Never the hidden tests: a model in a real evaluation does not have them."""
    path = getattr(task, "path", None)
    found = path / REPRO_FROM_ISSUE if path is not None else None
    return found.read_text(encoding="utf-8") if found is not None and found.is_file() else ""


def reproduction_test(task, rng: random.Random) -> str:
    """A reproduction test as a noisy model writes one (REPRO_NOISE). The right one is what the
    issue describes (``issue_test``); a task without one gets only weak, wrong or vacuous tests."""
    kind = rng.choices(list(REPRO_NOISE), weights=list(REPRO_NOISE.values()))[0]
    right = issue_test(task)
    if kind == "right" and right:
        return right
    if kind == "wrong" and right:
        wrong = right.replace('== "', '== "~').replace("== '", "== '~")
        return wrong if wrong != right else right + "\n\ndef test_reproduces_issue_exactly():\n    assert False\n"
    example = reproduction(task) if kind == "weak" else None
    if example is not None:
        code = example.args["command"].split("<<'EOF'\n", 1)[-1].rsplit("EOF", 1)[0]
        body = "".join(f"    {line}\n" for line in code.splitlines())
        return f"def test_reproduces_issue():\n{body}"
    return "import os\n\n\ndef test_reproduces_issue():\n    assert os.path.isdir('.')\n"


class ModelServer:
    """An OpenAI-compatible server around ``script``; use as a context manager. ``url`` is
    the ``api_base`` for litellm. Subclasses may override ``handle`` (the tests add faults)."""

    def __init__(self, script, delay_s: float = 0.0):
        self.script, self.delay_s = script, delay_s
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep the output clean
                pass

            def setup(self):
                super().setup()  # answers go out at once, not after a delayed ACK
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                status, payload = server.handle(self.path, body)
                headers = payload.pop("_headers", {}) if isinstance(payload, dict) else {}
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, str(value))
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def choices(self, body: dict) -> int:
        """How many choices to answer with (``n``)."""
        return int(body.get("n") or 1)

    def handle(self, path: str, body: dict) -> tuple[int, dict]:
        """(HTTP status, JSON payload) for one request."""
        if not path.rstrip("/").endswith("/chat/completions"):
            return 404, {"error": {"message": f"no route {path}", "type": "not_found"}}
        if self.delay_s:
            time.sleep(self.delay_s)
        prompt_chars = sum(len(json.dumps(m)) for m in body.get("messages", []))
        choices = []
        completion = 0
        for index in range(self.choices(body)):
            out = self.script(body, index)
            message: dict = {"role": "assistant", "content": out.get("text", out.get("thought") or None)}
            if "tool" in out:
                message["tool_calls"] = [
                    {
                        "id": f"call_{next(self._ids)}",
                        "type": "function",
                        "function": {"name": out["tool"], "arguments": json.dumps(out.get("args") or {})},
                    }
                ]
            completion += len(json.dumps(message)) // 4 + 1
            choices.append(
                {"index": index, "message": message, "finish_reason": "tool_calls" if "tool" in out else "stop"}
            )
        return 200, {
            "id": f"chatcmpl-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "simulated"),
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_chars // 4 + 1,
                "completion_tokens": completion,
                "total_tokens": prompt_chars // 4 + 1 + completion,
            },
        }
