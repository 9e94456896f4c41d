"""A long-lived shell in a container that runs the engine's own scripts one after another.

A ``docker exec`` costs tens of milliseconds before its script starts (the daemon, runc entering
the container), as much as a restore's own work on a quiet machine; a step sent to a shell that
is already there costs a write and a read. Such a shell is trusted only while no process of an
agent's lives beside it: in an agent's container the first engine step after a command starts it
(every process the command left was killed by then), and it ends before the next command starts
and with every kill of what is in the container (``ContainerCommands``); the keeper runs no
command of an agent's at all. Each step keeps the bounds of an exec: a deadline (past it the
shell ends, with what it ran), a bound on what it prints (``Sink``), and an end that no output can
forge: a random marker made for that step, which no process of an agent's is alive to learn.
"""

from __future__ import annotations

import secrets
import threading

from trajscope.engine.sandbox.base import SandboxError
from trajscope.engine.sandbox.container import Sink, short_error

# A header line "<script bytes> <marker> <input bytes>", the input (kept in a file named by
# $TS_IN), then the script, run in a subshell (its exit, set -e and cd end there) with no
# standard input. Its stderr goes to a file with no name (fd 3; a restore empties /tmp, and
# nothing can remove or replace it), whose last 4 KiB follow the marker and the exit status on
# stdout, then the marker again; bash's read takes a pipe a byte at a time, so it never reads
# past the script.
_LOOP = (
    'e=$(mktemp) && exec 3<> "$e" && rm -f "$e" || exit 1\nexport TS_IN=$e.in\n'
    "while IFS=' ' read -r n m d; do\n"
    '  if [ "${d:-0}" -gt 0 ]; then head -c "$d" > "$TS_IN"; fi\n'
    '  IFS= read -r -N "$n" s || exit 0\n'
    '  ( eval "$s" ) < /dev/null 2> /proc/self/fd/3\n'  # opened anew: emptied for each step
    '  printf "%s%03d" "$m" $?\n'
    '  tail -c 4096 /proc/self/fd/3; rm -f "$TS_IN"\n'
    '  printf "%s" "$m"\n'
    "done\n"
)


class EngineShell:
    """One ``bash`` in ``container`` reading the engine's scripts from its standard input."""

    def __init__(self, api, container):
        import docker.errors
        from docker.utils.socket import frames_iter

        try:
            ex = api.exec_create(
                container.id,
                ["bash", "-c", _LOOP],
                stdin=True,
                stdout=True,
                stderr=True,
                workdir="/",
                environment={"LC_ALL": "C"},
            )
            self.sock = api.exec_start(ex["Id"], socket=True)
        except docker.errors.DockerException as exc:
            raise SandboxError(f"the container did not take the command: {short_error(exc)}") from None
        self.raw = getattr(self.sock, "_sock", self.sock)
        self.frames = frames_iter(self.sock, tty=False)
        self.alive = True

    def run(self, script: str, sink: Sink, timeout: float, kill=None, data: bytes = b"") -> tuple[int | None, bool]:
        """Run ``script`` (``data``: a file it reads at ``$TS_IN``); (exit code, timed out), as
        ``stream_exec``. The code is None, and the shell is gone, where the exchange broke."""
        if not self.alive:
            return None, False
        try:
            body = script.encode()
        except UnicodeEncodeError:  # a name from a tool call holding a lone surrogate (JSON allows it)
            raise SandboxError("a path or text that is not valid UTF-8 cannot reach the container") from None
        marker = secrets.token_hex(16).encode()
        header = f"{len(body)} {marker.decode()} {len(data)}\n".encode()
        result: list[int | None] = [None]
        thread = threading.Thread(target=self._exchange, args=(header + data + body, marker, sink, result), daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            if kill is not None:
                kill()
            self.close()
            thread.join(1.0)
            return None, True
        if result[0] is None:
            self.close()
        return result[0], False

    def _exchange(self, message: bytes, marker: bytes, sink: Sink, result: list) -> None:
        try:
            self.raw.sendall(message)
            held = bytearray()
            ended = False
            for kind, chunk in self.frames:
                if kind != 1:
                    continue  # the loop itself prints nothing on stderr
                held += chunk
                if not ended:
                    at = held.find(marker)
                    if at < 0:
                        keep = len(held) - (len(marker) - 1)  # a marker may straddle two chunks
                        if keep > 0:
                            sink.feed(bytes(held[:keep]), None)
                            del held[:keep]
                        continue
                    if at:
                        sink.feed(bytes(held[:at]), None)
                    del held[: at + len(marker)]
                    ended = True
                end = held.find(marker)
                if end < 0:
                    if len(held) > 8192:
                        return  # more than the status and 4 KiB of stderr: not the loop's
                    continue
                status, err = bytes(held[:3]), bytes(held[3:end])
                if end + len(marker) != len(held) or not status.isdigit():
                    return  # something follows the end: the exchange is not the loop's
                sink.feed(None, err)
                result[0] = int(status)
                return
        except (OSError, ValueError):
            return  # closed under us, or the shell is gone: the caller starts another

    def close(self) -> None:
        """End the exchange; the shell reads the end of its input and exits."""
        self.alive = False
        try:
            self.raw.shutdown(2)  # SHUT_RDWR: a blocked read or write ends too
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
