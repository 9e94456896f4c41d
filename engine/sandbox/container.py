"""Talking to a container (docs/security.md): every exchange has a deadline and a bound.

``stream_exec`` runs a command through the low-level exec API, reads its output in a
thread into a bounded sink while watching the deadline and the exec's state, and kills
what is left in the container (``KILL_ALL``) at the deadline or when asked; ``put_dir`` and
``put_file`` copy into a container through temporary files, never whole in memory."""

from __future__ import annotations

import os
import socket
import tarfile
import tempfile
import threading
import time
from pathlib import Path

from trajscope.engine.sandbox.base import PathOutsideRepo, SandboxError
from trajscope.engine.sandbox.host_files import empty_folders, git_mode
from trajscope.engine.sandbox.output import DRAIN_GRACE, BoundedOutput

WATCH_POLL = 0.02  # seconds between two calls of an exec's watch


def short_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[-1] if text else type(exc).__name__
    return line if len(line) < 160 else line[:157] + "..."


# Kills every process in the container but its init, the ``sleep`` that keeps it up
# (pid in $KEEP) and this shell. A fork bomb races a plain kill, so everything is first
# stopped (a stopped process cannot fork) until a round finds no process it has not
# stopped yet, and then killed the same way; a killed process may take a moment to go,
# so each is signalled once and the rounds end when nothing new appears. Bash builtins
# only, so that an agent that removed coreutils cannot stop it.
KILL_ALL = (
    "declare -A done\n"
    "sweep() { local sig=$1 r p st n\n"
    "  done=()\n"
    "  for ((r = 0; r < 500; r++)); do n=0\n"
    "    for p in /proc/[0-9]*; do p=${p#/proc/}\n"
    '      case " 1 $$ $KEEP " in *" $p "*) continue;; esac\n'
    '      [ -n "${done[$p]}" ] && continue\n'
    # The state is the field after the name's closing ")": the name is the process's own to
    # set (spaces, ")", newlines), so the fields are counted from its last ") ", never from the start.
    "      st=; read -r -d '' st 2>/dev/null < /proc/$p/stat; [ -n \"$st\" ] || continue\n"
    "      st=${st##*) }; st=${st%% *}\n"
    '      [ "$st" = Z ] && continue\n'
    '      kill -$sig "$p" 2>/dev/null; done[$p]=1; n=1\n'
    "    done\n"
    "    [ $n = 0 ] && return 0\n"
    "  done\n"
    "  return 1; }\n"
    "sweep STOP; sweep KILL\n"
)


class Sink:
    """Where an exec's output goes. stdout: a BoundedOutput (a command's output, head and
    tail), or a bytearray or file that may not pass ``limit`` bytes (``over`` is then
    set and the rest dropped). stderr: its last 4 KB, for the error message."""

    def __init__(self, out=None, limit: int | None = None, merge: bool = False):
        self.out = bytearray() if out is None else out
        self.limit, self.merge = limit, merge
        self.size = 0
        self.over = False
        self.err = BoundedOutput(0, 4096)

    def feed(self, out: bytes | None, err: bytes | None) -> None:
        if self.merge and err:
            out, err = (out or b"") + err, None
        if out and not self.over:
            self.size += len(out)
            if self.limit is not None and self.size > self.limit:
                self.over = True
            elif isinstance(self.out, BoundedOutput):
                self.out.feed(out)
            elif isinstance(self.out, bytearray):
                self.out += out
            else:
                self.out.write(out)
        if err:
            self.err.feed(err)

    def error_line(self) -> str:
        lines = self.err.text().strip().splitlines()
        return lines[-1] if lines else ""


class _Fed:
    """An exec's socket: ``data`` (a file) goes to its standard input, then that is closed, in a
    thread, while its output is read here as ``(stdout, stderr)`` chunks."""

    def __init__(self, sock, data):
        from docker.utils.socket import frames_iter

        self.sock, self.raw = sock, getattr(sock, "_sock", sock)
        self.frames = frames_iter(sock, tty=False)
        threading.Thread(target=self._write, args=(data,), name="trajscope-exec-in", daemon=True).start()

    def _write(self, data) -> None:
        try:
            while chunk := data.read(1 << 16):
                self.raw.sendall(chunk)
            self.raw.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the command ended, or the deadline closed the socket: its exit code tells

    def __iter__(self):
        for kind, chunk in self.frames:
            yield (chunk, None) if kind == 1 else (None, chunk)

    def close(self) -> None:
        try:
            self.raw.shutdown(socket.SHUT_RDWR)  # a blocked write ends too
        except OSError:
            pass
        self.sock.close()


def stream_exec(
    api,
    container,
    argv: list[str],
    sink: Sink,
    timeout: float,
    kill=None,
    kill_after: bool = False,
    watch=None,
    stdin=None,
) -> tuple[int | None, bool]:
    """Run ``argv`` in ``container``, feeding ``sink``; (exit code or None, timed out).

    The output is read in a thread while this one watches the deadline and the exec's
    state, so neither a command that never ends nor a background process that holds its
    output open can hold the engine: ``kill`` (which kills what runs in the container)
    runs at the deadline, and also when the command has ended if ``kill_after``; then
    the output is read for at most DRAIN_GRACE more seconds. ``watch``, when given, is
    called every WATCH_POLL seconds while the command runs; True ends it as at a deadline
    (the caller knows why). ``stdin``: a file the command reads as its standard input (one
    exchange, where copying it into the container first would be a second)."""
    import docker.errors

    try:
        ex = api.exec_create(container.id, argv, stdout=True, stderr=True, stdin=stdin is not None, workdir="/")
        if stdin is None:
            stream = api.exec_start(ex["Id"], stream=True, demux=True)
        else:
            stream = _Fed(api.exec_start(ex["Id"], socket=True), stdin)
    except docker.errors.DockerException as exc:
        raise SandboxError(f"the container did not take the command: {short_error(exc)}") from None
    done = threading.Event()
    lock = threading.Lock()
    stopped = [False]

    def pump() -> None:
        try:
            for out, err in stream:
                with lock:
                    if stopped[0]:
                        break
                    sink.feed(out, err)
        except Exception:  # noqa: BLE001 - the stream was closed under us
            pass
        finally:
            done.set()

    threading.Thread(target=pump, name="trajscope-exec", daemon=True).start()
    deadline = time.monotonic() + timeout
    timed_out, ended, watched = False, False, False
    poll, next_look = 0.01, 0.0
    while not done.wait(min(poll, WATCH_POLL) if watch is not None else poll):
        now = time.monotonic()
        if now >= deadline:
            timed_out = True
            break
        if watch is not None and watch():
            watched = True
            break
        if now < next_look:
            continue
        poll = min(poll * 2, 0.25)
        next_look = now + poll
        try:
            ended = not api.exec_inspect(ex["Id"]).get("Running")
        except docker.errors.DockerException:
            ended = True
        if ended:
            break
    if kill is not None and (timed_out or kill_after or watched):
        kill()
    done.wait(DRAIN_GRACE)
    with lock:
        stopped[0] = True
    try:
        stream.close()
    except Exception:  # noqa: BLE001 - already closed
        pass
    if timed_out:
        return None, True
    code = None
    for _ in range(50):  # the exit code is set a moment after the stream ends
        try:
            info = api.exec_inspect(ex["Id"])
        except docker.errors.DockerException:
            break
        if not info.get("Running"):
            code = info.get("ExitCode")
            break
        time.sleep(0.02)
    return code, False


def check_exec(sink: Sink, code: int | None, timed_out: bool, timeout: float, what: str) -> bytes:
    if timed_out:
        raise SandboxError(f"{what} did not finish in {timeout:g} s")
    if sink.over:
        raise SandboxError(f"{what} printed more than {sink.limit:,} bytes")
    if code != 0:
        raise SandboxError(f"{what}: {sink.error_line() or f'exit code {code}'}")
    return bytes(sink.out)


def put_dir(container, source: Path, dest: str) -> None:
    """Copy the repository ``source`` into ``dest`` as git keeps it (``host_files.git_mode``):
    files 644 or 755, folders 755, no empty folder, so the first container holds what a
    restore or a fork at the base holds. A repository's own ``.git`` goes as it is."""
    hollow = empty_folders(str(source))

    def as_git_keeps(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        if info.name == "." or info.name.startswith("./.git/") or "/.git/" in info.name:
            return info
        if info.isdir():
            if os.path.normpath(os.path.join(str(source), info.name)) in hollow:
                return None
            info.mode = 0o755
        elif info.isfile():
            info.mode = git_mode(info.mode)
        return info

    with tempfile.TemporaryFile() as buf:
        with tarfile.open(fileobj=buf, mode="w") as tar:
            tar.add(str(source), arcname=".", filter=as_git_keeps)
        buf.seek(0)
        if not container.put_archive(dest, buf):
            raise SandboxError(f"could not copy {source} into the container")


def put_file(container, dest_dir: str, name: str, data, size: int) -> None:
    """Copy ``size`` bytes of the file object ``data`` to ``dest_dir/name`` in the container."""
    with tempfile.SpooledTemporaryFile(8 << 20) as buf:
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo(name)
            info.size = size
            info.mode = 0o600
            info.mtime = int(time.time())
            tar.addfile(info, data)
        buf.seek(0)
        if not container.put_archive(dest_dir, buf):
            raise SandboxError("could not copy into the container")


def raise_for_editor(code: int, out: bytes, path: str, verb: str, read_limit: int) -> None:
    """The editor scripts' exit codes as errors: 3 outside, 4 missing, 5 a directory."""
    if code == 3:
        raise PathOutsideRepo(f"{path} leads outside the repository")
    if code == 4:
        raise SandboxError(f"{path} does not exist")
    if code == 5:
        raise SandboxError(f"{path} is a directory")
    if code == 6:
        raise SandboxError(f"{path} is not a regular file")
    if code == 7:
        raise SandboxError(f"{path} is larger than {read_limit:,} bytes; look at it with bash")
    if code != 0:
        raise SandboxError(f"could not {verb} {path}: {out.decode(errors='replace').strip()}")
