"""The channel the viewers of a served search reach it by (``trajscope serve``): orchestration,
as a batch's pipes are, so it lives with the batch worker it drives.

The serve process runs the search (a SearchWorker: the same as a batch's, with its log where
the person asked). Every browser connection is its own app process (textual-serve starts one
per connection); those processes follow the search's log and reach the search through Unix
sockets in a private directory (mode 0700): ``control.sock`` takes commands and status
requests; ``status.sock`` answers status only. A viewer started read-only is given only the
status socket, so no command it could send reaches the search: refused by the server, not
hidden by the page. A command's arguments are the session's to check (the same rules as the
dialogs: engine/search/commands.py); a bad one is an error answer, and the search goes on.
"""

from __future__ import annotations

import json
import os
import socket
import socketserver
import tempfile
import threading
from pathlib import Path

MAX_REQUEST = 1 << 16  # bytes of one request line
TIMEOUT_S = 600.0  # a submit waits for its tests


class _Handler(socketserver.StreamRequestHandler):
    timeout = 30

    def handle(self) -> None:
        line = self.rfile.readline(MAX_REQUEST + 1)
        if not line:
            return
        if len(line) > MAX_REQUEST:
            self._reply({"error": f"a request is at most {MAX_REQUEST:,} bytes"})
            return
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError("not an object")
        except (ValueError, RecursionError):
            self._reply({"error": "not a request"})
            return
        try:
            answer = self._answer(request)
        except Exception as exc:  # noqa: BLE001 - an answer always, never a traceback on serve's terminal
            answer = {"error": f"the search could not answer ({type(exc).__name__})"}
        self._reply(answer)

    def _answer(self, request: dict) -> dict:
        worker, commands = self.server.worker, self.server.commands
        if request.get("op") == "status":
            return {"status": worker.status()}
        if request.get("op") == "command" and commands:
            args, kwargs = request.get("args") or [], request.get("kwargs") or {}
            if not isinstance(args, list) or not isinstance(kwargs, dict):
                return {"error": "bad arguments"}
            return {"error": worker.command(str(request.get("name")), args, kwargs)}
        return {"error": "this viewer is read-only" if request.get("op") == "command" else "unknown op"}

    def _reply(self, body: dict) -> None:
        try:
            self.wfile.write(json.dumps(body).encode() + b"\n")
        except OSError:
            pass


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class ControlServer:
    """Both sockets for ``worker``, in a fresh private directory."""

    def __init__(self, worker) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="trajscope-serve-"))
        os.chmod(self.dir, 0o700)
        self.control, self.status = self.dir / "control.sock", self.dir / "status.sock"
        self._servers = []
        for path, commands in ((self.control, True), (self.status, False)):
            server = _Server(str(path), _Handler)
            server.worker, server.commands = worker, commands
            os.chmod(path, 0o600)
            threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.2},
                daemon=True,
                name=f"trajscope-serve-{path.stem}",
            ).start()
            self._servers.append(server)

    def close(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for path in (self.control, self.status):
            path.unlink(missing_ok=True)
        try:
            self.dir.rmdir()
        except OSError:
            pass


class ControlClient:
    """A viewer's end: one short connection per request."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)

    def _ask(self, request: dict, timeout: float) -> dict:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(self.path)
            sock.sendall(json.dumps(request).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n") and len(data) <= MAX_REQUEST * 16:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        return json.loads(data) if data else {"error": "no answer"}

    def status(self) -> dict:
        try:
            return self._ask({"op": "status"}, 5.0).get("status") or {}
        except (OSError, ValueError):
            return {"state": "gone", "error": "the served search is not answering"}

    def command(self, member, name: str, *args, **kwargs) -> None:
        try:
            error = self._ask({"op": "command", "name": name, "args": list(args), "kwargs": kwargs}, TIMEOUT_S)
        except (OSError, ValueError) as exc:
            raise RuntimeError(f"the served search did not answer ({exc})") from None
        if error.get("error"):
            raise RuntimeError(error["error"])
