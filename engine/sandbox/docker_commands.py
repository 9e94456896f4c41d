"""How a Docker sandbox runs one command and the file tools in its container, bounded.

The other half of ``DockerSandbox`` (``docker.py`` keeps its container and its states). Every
exchange with the container has a deadline and a bound: output streams to the engine through
the exec's socket (no file in the container is opened on the engine's behalf), kept head and
tail (``engine.sandbox.output``); when a command ends or times out every process it left in
the container is killed, and the disk watch stops a container that writes past its limit.
"""

from __future__ import annotations

import io
import shlex
import time
import uuid

from trajscope.engine.sandbox.base import DEFAULT_TIMEOUT, ExecResult, SandboxError, cap_output, repo_path
from trajscope.engine.sandbox.container import (
    KILL_ALL,
    Sink,
    check_exec,
    put_file,
    raise_for_editor,
    short_error,
    stream_exec,
)
from trajscope.engine.sandbox.daemon import DiskWatch, remove_container
from trajscope.engine.sandbox.engine_shell import EngineShell
from trajscope.engine.sandbox.keeper import HELPER_LIMIT, HELPER_TIMEOUT, KeeperSession
from trajscope.engine.sandbox.output import BoundedOutput, keep_output

READ_LIMIT = 16 << 20  # bytes the file tools read from one file
COMMAND_ENV = {  # what every process in an agent's container starts with
    "PAGER": "cat",
    "GIT_PAGER": "cat",
    "TERM": "dumb",
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
    "PIP_NO_INPUT": "1",
    # no network, so pip's cache serves nothing; kept out of HOME, where
    # a write replaces the container at the next restore (tamper)
    "PIP_NO_CACHE_DIR": "1",
    "NO_COLOR": "1",
}
KILL_TIMEOUT = 20.0


class ContainerCommands:
    """The command and file-tool side of ``DockerSandbox``: what it needs of the sandbox is named below."""

    repo: str
    setup: str
    disk_mb: int
    output_cap: int
    notice: str
    container: object
    _client: object
    _session: KeeperSession | None
    _closed: bool
    _dead: bool
    _disk: DiskWatch | None
    _disk_over: int
    _keep_pid: str
    _runs: object
    _shell: EngineShell | None = None  # started by the first engine step after a command

    # -- low level --------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed or self.container is None:
            raise SandboxError("the sandbox is closed")

    def _exec(
        self, script: str, sink: Sink, timeout: float = HELPER_TIMEOUT, kill_after: bool = False, watch=None
    ) -> tuple[int | None, bool]:
        self._check_open()
        return stream_exec(
            self._client.api,
            self.container,
            ["bash", "-c", script],
            sink,
            timeout,
            kill=self._kill_all,
            kill_after=kill_after,
            watch=watch,
        )

    def _step(self, script: str, sink: Sink, timeout: float = HELPER_TIMEOUT) -> tuple[int | None, bool]:
        """Run one of the engine's own scripts, through the shell that the first step since the
        last command started (``engine_shell``): no process of an agent's has lived beside it."""
        self._check_open()
        if self._shell is None or not self._shell.alive:
            self._shell = EngineShell(self._client.api, self.container)
        code, timed_out = self._shell.run(script, sink, timeout, kill=self._kill_all)
        if code is None and not timed_out and not sink.size:
            # the shell broke before the step printed anything (an image whose bash lacks
            # what the loop needs): the step runs in an exec of its own, as it did before
            self._shell = None
            return self._exec(script, sink, timeout)
        return code, timed_out

    def _end_shell(self) -> None:
        """Before anything of an agent's runs in the container (or the container goes)."""
        shell, self._shell = self._shell, None
        if shell is not None:
            shell.close()

    def _watch_disk(self, ended: bool = False) -> bool:
        """Whether the container wrote past its disk limit; if so it is killed at once (its
        processes stop writing) and marked dead, to be removed with what it wrote."""
        if self._disk is None or self._dead or not self._disk.check(ended):
            return False
        self._disk_over = self._disk.used
        self._dead = True
        try:
            self.container.kill()
        except Exception:  # noqa: BLE001 - already stopped
            pass
        return True

    def _sh(self, script: str, timeout: float = HELPER_TIMEOUT, limit: int = HELPER_LIMIT) -> str:
        sink = Sink(limit=limit)
        code, timed_out = self._step(script, sink, timeout)
        return check_exec(sink, code, timed_out, timeout, "in the container").decode("utf-8", errors="replace")

    def _kill_all(self) -> None:
        """Kill every process left in the container (the agent's background work, what
        escaped with setsid or a double fork); if that does not hold, the container goes."""
        self._end_shell()
        if self.container is None or not self._keep_pid or self._dead:
            return
        sink = Sink(limit=4096)
        try:
            code, timed_out = stream_exec(
                self._client.api,
                self.container,
                ["bash", "-c", f"KEEP={self._keep_pid}\n{KILL_ALL}"],
                sink,
                KILL_TIMEOUT,
            )
        except SandboxError:  # the container is gone or stopping: nothing left to kill in it
            self._dead = True
            return
        if timed_out or code not in (0, None):
            self.notice = "a process in the container could not be killed; the container was removed"
            self._dead = True
            remove_container(self.container)

    # -- commands ---------------------------------------------------------------------

    def run(self, command: str, timeout: float = DEFAULT_TIMEOUT) -> ExecResult:
        """Run ``command``: its output streams to the engine (no file in the container is
        involved), bounded head and tail; at its end or its deadline every process it
        left in the container is killed."""
        self._end_shell()
        n = next(self._runs)
        out = BoundedOutput()
        script = (f"{self.setup}\n" if self.setup else "") + (
            f"cd {shlex.quote(self.repo)} || exit 90\nexec bash -c {shlex.quote(command)} < /dev/null 2>&1\n"
        )
        started = time.perf_counter()
        code, timed_out = self._exec(
            script,
            Sink(out, merge=True),
            timeout,
            kill_after=True,
            watch=self._watch_disk if self._disk is not None else None,
        )
        duration = time.perf_counter() - started
        if self._disk_over or self._watch_disk(ended=True):
            remove_container(self.container)  # what it wrote goes with it, now
            raise SandboxError(
                f"the command wrote more than the sandbox's disk limit ({self.disk_mb:,} MiB); "
                "it was stopped and its container removed"
            )
        if self.container is not None:
            try:
                self.container.reload()
                alive = not self._dead and self.container.status == "running"
            except Exception:  # noqa: BLE001 - removed
                alive = False
            if not alive:
                self._dead = True
                raise SandboxError(
                    "the container stopped during the command (its keep-alive process was killed "
                    "or a process could not be killed)"
                )
        text = out.text()
        if timed_out:
            text += f"\n[command timed out after {timeout:g} s and was killed]"
        elif code == 137:
            text += "\n[the command was killed (signal 9); it may have run out of memory]"
        elif code is None:
            code = -1
        shown, truncated = cap_output(text, self.output_cap)
        saved = None
        if truncated:
            saved = keep_output(self._session.outputs, f"{self._session.id}-{self._n}-{n}.log", out)
        return ExecResult(shown, -1 if timed_out else code, duration, timed_out, truncated, saved, out.total)

    # -- editor -----------------------------------------------------------------------

    def _checked(self, path: str) -> str:
        target = repo_path(path, self.repo)
        return (
            f"t=$(realpath -m -- {shlex.quote(target)})\n"
            f'case "$t" in {shlex.quote(self.repo)}|{shlex.quote(self.repo)}/*) ;; '
            "*) echo 'outside' >&2; exit 3;; esac\n"
        )

    def _editor(self, script: str, path: str, verb: str) -> bytes:
        sink = Sink(limit=READ_LIMIT + 1)
        code, timed_out = self._step(script, sink)
        if timed_out:
            raise SandboxError(f"could not {verb} {path}: no answer in {HELPER_TIMEOUT:g} s")
        raise_for_editor(code if code is not None else 1, sink.err.data(), path, verb, READ_LIMIT)
        return bytes(sink.out)

    def read(self, path: str) -> str:
        out = self._editor(
            self._checked(path)
            + (
                '[ -d "$t" ] && exit 5\n[ -e "$t" ] || exit 4\n[ -f "$t" ] || exit 6\n'
                f'[ "$(stat -c %s -- "$t")" -le {READ_LIMIT} ] || exit 7\n'
                f'exec head -c {READ_LIMIT} -- "$t"\n'
            ),
            path,
            "read",
        )
        return out.decode("utf-8", errors="replace")

    def write(self, path: str, text: str) -> None:
        self._check_open()
        data = text.encode("utf-8")
        name = f"ts-in-{uuid.uuid4().hex}"
        try:
            put_file(self.container, "/tmp", name, io.BytesIO(data), len(data))
        except Exception as exc:  # noqa: BLE001 - docker's or ours: one line
            raise SandboxError(f"could not write {path}: {short_error(exc)}") from None
        self._editor(
            self._checked(path)
            + (
                f"src=/tmp/{name}\ntrap 'rm -f \"$src\"' EXIT\n"
                '[ -d "$t" ] && exit 5\n[ -e "$t" ] && [ ! -f "$t" ] && exit 6\n'
                'mkdir -p -- "$(dirname -- "$t")" && cat "$src" > "$t"\n'
            ),
            path,
            "write",
        )
