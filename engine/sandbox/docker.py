"""DockerSandbox: one container per concurrently running branch (DESIGN section 3).

Containers run with no network and with memory, CPU and process limits. Every
container (and the volume its session's snapshot store lives in) carries the
label ``trajscope.sandbox`` and its owner's host and process id, so that what a
crashed or killed run left behind is removed the next time a sandbox starts,
and what this process made is removed when it exits, Ctrl-C included.

The snapshot store is a bare git repository on a volume shared by the root
sandbox and its forks, so a fork is a new container of the same image with
the work tree restored to a ref (no ``docker commit``).
"""

from __future__ import annotations

import atexit
import io
import shutil
import itertools
import os
import shlex
import socket
import tarfile
import tempfile
import threading
import time
import uuid
import weakref
from pathlib import Path

from engine.sandbox.base import (
    DEFAULT_TIMEOUT,
    OUTPUT_CAP,
    ExecResult,
    GitStore,
    PathOutsideRepo,
    SandboxError,
    SharedState,
    StateRef,
    cap_output,
    repo_path,
)
from engine.sandbox.confine import alive

LABEL = "trajscope.sandbox"
OWNER = "trajscope.owner"
SESSION = "trajscope.session"
BASE_IMAGE = "trajscope/base:1"
STORE_MOUNT = "/ts"
_FULL_OUTPUT_LIMIT = 4 * 1024 * 1024  # bytes sent back inline; beyond this, head and tail
_CLIENT_TIMEOUT = 3600

_live: "weakref.WeakSet[DockerSandbox]" = weakref.WeakSet()
_client_lock = threading.Lock()
_clients: dict[str, object] = {}
_reaped = False


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def client():
    """The docker client, or SandboxError saying why the engine cannot be reached."""
    with _client_lock:
        if "c" in _clients:
            return _clients["c"]
        try:
            import docker
            import docker.errors
        except ImportError:  # pragma: no cover - docker is a dependency
            raise SandboxError("the docker Python package is not installed") from None
        try:
            c = docker.from_env(timeout=_CLIENT_TIMEOUT)
            c.ping()
        except docker.errors.DockerException as exc:
            host = os.environ.get("DOCKER_HOST", "the local socket")
            raise SandboxError(
                f"Docker is not reachable at {host} ({_short(exc)}); start the daemon or use --sandbox local"
            ) from None
        _clients["c"] = c
        return c


def docker_available() -> tuple[bool, str]:
    try:
        client()
    except SandboxError as exc:
        return False, str(exc)
    return True, ""


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[-1] if text else type(exc).__name__
    return line if len(line) < 160 else line[:157] + "..."


def reap_leftovers(c=None) -> int:
    """Remove containers and volumes of trajscope processes on this host that are gone."""
    c = c or client()
    host = socket.gethostname()
    reaped = 0
    for container in c.containers.list(all=True, filters={"label": LABEL}):
        if _dead_owner(container.labels.get(OWNER, ""), host):
            _remove_container(container)
            reaped += 1
    for volume in c.volumes.list(filters={"label": LABEL}):
        labels = volume.attrs.get("Labels") or {}
        if _dead_owner(labels.get(OWNER, ""), host):
            for outputs in Path(tempfile.gettempdir()).glob(f"trajscope-docker-{labels.get(SESSION, '?')}-*"):
                shutil.rmtree(outputs, ignore_errors=True)
            try:
                volume.remove(force=True)
                reaped += 1
            except Exception:  # noqa: BLE001 - still in use by a live container; next time
                pass
    return reaped


def _dead_owner(owner: str, host: str) -> bool:
    name, _, pid = owner.rpartition(":")
    return name == host and pid.isdigit() and not alive(int(pid))


def _remove_container(container) -> None:
    try:
        container.remove(force=True)
    except Exception:  # noqa: BLE001 - already gone
        pass


@atexit.register
def _close_all() -> None:
    for sandbox in list(_live):
        try:
            sandbox.close()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


def _raise_for(code: int, out: bytes, path: str, verb: str) -> None:
    """The editor scripts' exit codes as errors: 3 outside, 4 missing, 5 a directory."""
    if code == 3:
        raise PathOutsideRepo(f"{path} leads outside the repository")
    if code == 4:
        raise SandboxError(f"{path} does not exist")
    if code == 5:
        raise SandboxError(f"{path} is a directory")
    if code != 0:
        raise SandboxError(f"could not {verb} {path}: {out.decode(errors='replace').strip()}")


class _Session(SharedState):
    """The volume that holds the snapshot store, shared by a root sandbox and its forks."""

    def __init__(self, c, image: str, output_dir: str | os.PathLike | None):
        super().__init__()
        self.id = uuid.uuid4().hex[:12]
        self.image = image
        self.labels = {LABEL: "1", OWNER: _owner(), SESSION: self.id}
        self.volume = c.volumes.create(name=f"trajscope-{self.id}", labels=self.labels)
        self.own_outputs = output_dir is None
        self.outputs = Path(output_dir) if output_dir else Path(tempfile.mkdtemp(prefix=f"trajscope-docker-{self.id}-"))
        self.outputs.mkdir(parents=True, exist_ok=True)

    def release(self) -> bool:
        last = super().release()
        if last:
            try:
                self.volume.remove(force=True)
            except Exception:  # noqa: BLE001 - reaped later
                pass
            if self.own_outputs:
                shutil.rmtree(self.outputs, ignore_errors=True)
        return last


class DockerSandbox:
    """A container from a task image, with the repository at ``repo``."""

    kind = "docker"

    def __init__(self, image: str = BASE_IMAGE, source: str | os.PathLike | None = None, *,
                 repo: str = "/repo", memory_mb: int = 2048, cpus: float = 2.0, max_processes: int = 256,
                 output_cap: int = OUTPUT_CAP, output_dir: str | os.PathLike | None = None,
                 _session: _Session | None = None, _ref: StateRef | None = None):
        """``output_dir`` keeps full outputs of capped commands after close (else a temporary one)."""
        import docker.errors

        global _reaped
        self._client = client()
        if not _reaped:
            reap_leftovers(self._client)
            _reaped = True
        self.image, self.repo = image, repo
        self.memory_mb, self.cpus, self.max_processes, self.output_cap = memory_mb, cpus, max_processes, output_cap
        self.notice = ""
        self._closed = False
        self._runs = itertools.count()
        self.container = None
        if _session is None:
            try:
                self._client.images.get(image)
            except docker.errors.ImageNotFound:
                hint = " (build it with `trajscope sandbox build-image`)" if image == BASE_IMAGE else ""
                raise SandboxError(f"Docker image {image} is not there{hint}") from None
            if source is not None and not Path(source).is_dir():
                raise SandboxError(f"repository {source} is not a directory")
            _session = _Session(self._client, image, output_dir)
        self._session = _session
        self._n = _session.acquire()
        self._git = GitStore(f"{STORE_MOUNT}/store.git", repo, "/tmp/trajscope-index")
        _live.add(self)
        try:
            self.container = self._client.containers.run(
                image, ["sleep", "infinity"], detach=True, init=True, network_mode="none",
                mem_limit=f"{memory_mb}m", memswap_limit=f"{memory_mb}m", nano_cpus=int(cpus * 1e9),
                pids_limit=max_processes, labels=_session.labels,
                name=f"trajscope-{_session.id}-{self._n}",
                volumes={_session.volume.name: {"bind": STORE_MOUNT, "mode": "rw"}},
                environment={"PAGER": "cat", "GIT_PAGER": "cat", "TERM": "dumb", "LANG": "C.UTF-8",
                             "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1", "PIP_NO_INPUT": "1",
                             "NO_COLOR": "1"},
            )
            self._sh(f"mkdir -p {shlex.quote(repo)} /tmp/ts-out /tmp/ts-in")
            if _ref is None and self._session.base is None:
                if source is not None:
                    self._put_dir(Path(source), repo)
                self._session.base = self._sh(self._git.init()).strip()
            else:
                self.restore(_ref or self._session.base)
        except docker.errors.DockerException as exc:
            self.close()
            raise SandboxError(f"Docker could not start a container from {image}: {_short(exc)}") from None
        except BaseException:
            self.close()
            raise

    # -- low level --------------------------------------------------------------------

    def _exec(self, script: str) -> tuple[int, bytes]:
        if self._closed or self.container is None:
            raise SandboxError("the sandbox is closed")
        result = self.container.exec_run(["bash", "-c", script], workdir="/", demux=False)
        return result.exit_code, result.output or b""

    def _sh(self, script: str) -> str:
        code, out = self._exec(script)
        if code != 0:
            lines = out.decode(errors="replace").strip().splitlines()
            raise SandboxError(f"in the container: {lines[-1] if lines else f'exit code {code}'}")
        return out.decode("utf-8", errors="replace")

    def _put_dir(self, source: Path, dest: str) -> None:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            tar.add(str(source), arcname=".")
        if not self.container.put_archive(dest, buf.getvalue()):
            raise SandboxError(f"could not copy {source} into the container")

    # -- commands ---------------------------------------------------------------------

    def run(self, command: str, timeout: float = DEFAULT_TIMEOUT) -> ExecResult:
        n = next(self._runs)
        out = f"/tmp/ts-out/{n}.log"
        script = (
            f"cd {shlex.quote(self.repo)} || exit 90\n"
            f"start=$(date +%s.%N)\n"
            # timeout leads a process group of its own; what the command leaves running in
            # the background (a server, a fork bomb) is killed with that group at the end.
            f"timeout -k 2 {timeout:g} bash -c {shlex.quote(command)} > {out} 2>&1 < /dev/null &\n"
            "pid=$!\n"
            "wait $pid 2>/dev/null; rc=$?\n"
            "for i in 1 2 3 4 5; do kill -KILL -- -$pid 2>/dev/null || break; done\n"
            "end=$(date +%s.%N)\n"
            f"size=$(stat -c %s {out})\n"
            f"if [ \"$size\" -le {_FULL_OUTPUT_LIMIT} ]; then cat {out}; rm -f {out}; fi\n"
            "printf '\\n\\x00%s %s %s %s' \"$rc\" \"$size\" \"$start\" \"$end\"\n"
        )
        started = time.perf_counter()
        code, raw = self._exec(script)
        body, sep, trailer = raw.rpartition(b"\n\x00")
        if not sep or code != 0:
            raise SandboxError(f"the command could not run in the container (exit {code}): "
                               f"{raw[-200:].decode(errors='replace').strip()}")
        rc_s, size_s, t0, t1 = trailer.decode().split()
        rc, size = int(rc_s), int(size_s)
        duration = max(0.0, float(t1) - float(t0)) if t0 and t1 else time.perf_counter() - started
        timed_out = rc in (124, 137) and duration >= timeout * 0.98
        full_path: Path | None = None
        if size > _FULL_OUTPUT_LIMIT:
            full_path = self._fetch(out, n)
            with open(full_path, "rb") as fh:
                head = fh.read(self.output_cap * 4)
                fh.seek(max(0, size - self.output_cap * 4))
                tail = fh.read()
            body = head + b"\n" + tail  # the cap below marks the cut
        text = body.decode("utf-8", errors="replace")
        if timed_out:
            text += f"\n[command timed out after {timeout:g} s and was killed]"
        elif rc == 137:
            text += "\n[the command was killed (signal 9); it may have run out of memory]"
        shown, truncated = cap_output(text, self.output_cap)
        if truncated and full_path is None:
            full_path = self._session.outputs / f"{self._n}-{n}.log"
            full_path.write_bytes(body)
        if size > _FULL_OUTPUT_LIMIT:
            self._exec(f"rm -f {out}")
        return ExecResult(shown, -1 if timed_out else rc, duration, timed_out, truncated or size > len(body),
                          str(full_path) if full_path else None, max(size, len(text)))

    def _fetch(self, path: str, n: int) -> Path:
        dest = self._session.outputs / f"{self._n}-{n}.log"
        stream, _ = self.container.get_archive(path)
        buf = io.BytesIO(b"".join(stream))
        with tarfile.open(fileobj=buf) as tar:
            member = tar.next()
            src = tar.extractfile(member) if member else None
            dest.write_bytes(src.read() if src else b"")
        return dest

    # -- editor -----------------------------------------------------------------------

    def _checked(self, path: str) -> str:
        target = repo_path(path, self.repo)
        return (
            f"t=$(realpath -m -- {shlex.quote(target)})\n"
            f"case \"$t\" in {shlex.quote(self.repo)}|{shlex.quote(self.repo)}/*) ;; "
            "*) echo 'outside' >&2; exit 3;; esac\n"
        )

    def read(self, path: str) -> str:
        code, out = self._exec(self._checked(path) + (
            "[ -d \"$t\" ] && exit 5\n[ -e \"$t\" ] || exit 4\nexec cat -- \"$t\"\n"))
        _raise_for(code, out, path, "read")
        return out.decode("utf-8", errors="replace")

    def write(self, path: str, text: str) -> None:
        n = next(self._runs)
        data = text.encode("utf-8")
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo(f"{n}.in")
            info.size = len(data)
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(data))
        if self._closed or self.container is None:
            raise SandboxError("the sandbox is closed")
        self.container.put_archive("/tmp/ts-in", buf.getvalue())
        code, out = self._exec(self._checked(path) + (
            f"src=/tmp/ts-in/{n}.in\n"
            "[ -d \"$t\" ] && { rm -f \"$src\"; exit 5; }\n"
            "mkdir -p -- \"$(dirname -- \"$t\")\" && cat \"$src\" > \"$t\"; rc=$?; rm -f \"$src\"; exit $rc\n"))
        _raise_for(code, out, path, "write")

    # -- state ------------------------------------------------------------------------

    def snapshot(self) -> StateRef:
        return self._sh(self._git.snapshot()).strip()

    def restore(self, ref: StateRef) -> None:
        self._sh(self._git.restore(ref))

    def fork(self, ref: StateRef) -> "DockerSandbox":
        if self._closed:
            raise SandboxError("the sandbox is closed")
        return DockerSandbox(self.image, repo=self.repo, memory_mb=self.memory_mb, cpus=self.cpus,
                             max_processes=self.max_processes, output_cap=self.output_cap,
                             _session=self._session, _ref=ref)

    def diff(self) -> str:
        return self._sh(self._git.diff())

    @property
    def base(self) -> StateRef:
        return self._session.base or ""

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        _live.discard(self)
        if self.container is not None:
            _remove_container(self.container)
        self._session.release()

    def __enter__(self) -> "DockerSandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        name = self.container.name if self.container is not None else "-"
        return f"<DockerSandbox {name} {self.image}>"
