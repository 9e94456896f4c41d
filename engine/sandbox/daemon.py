"""The Docker engine as the sandboxes reach it: one client per process (a clear sentence
when the daemon cannot be reached), the labels every container and volume of trajscope's
carries (its host and process), the removal of what a crashed or killed run left, and the
bound on what a container may write to the host's disk (a storage quota where the daemon
has one, else a watch; docs/security.md)."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

from trajscope.engine.sandbox.base import SandboxError
from trajscope.engine.sandbox.confine import alive
from trajscope.engine.sandbox.container import WATCH_POLL, short_error

LABEL = "trajscope.sandbox"
OWNER = "trajscope.owner"
SESSION = "trajscope.session"
BASE_IMAGE = "trajscope/base:1"
_CLIENT_TIMEOUT = 3600
_client_lock = threading.Lock()
_clients: dict[str, object] = {}
_quota: dict[str, bool] = {}  # whether the daemon takes a storage quota, once it was tried
WATCH_SHARE = 0.05  # of a command's time, at most, spent asking the daemon what it wrote
RECOUNT_S = 10.0  # seconds after which a container's writes are counted whatever the free space says


def owner_id() -> str:
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
                f"Docker is not reachable at {host} ({short_error(exc)}); start the daemon or use --sandbox local"
            ) from None
        _clients["c"] = c
        return c


def docker_available() -> tuple[bool, str]:
    try:
        client()
    except SandboxError as exc:
        return False, str(exc)
    return True, ""


def reap_leftovers(c=None) -> int:
    """Remove containers and volumes of trajscope processes on this host that are gone."""
    c = c or client()
    host = socket.gethostname()
    reaped = 0
    for container in c.containers.list(all=True, filters={"label": LABEL}, ignore_removed=True):
        if _dead_owner(container.labels.get(OWNER, ""), host):
            remove_container(container)
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


def remove_container(container) -> None:
    try:
        container.remove(force=True)
    except Exception:  # noqa: BLE001 - already gone
        pass


def run_with_quota(c, image: str, quota: int, **options):
    """``c.containers.run`` with a storage quota of ``quota`` bytes on the container's writable
    layer where the daemon enforces one (overlay2 on xfs with pquota, devicemapper, btrfs,
    zfs); (container, whether the quota holds). A daemon that refuses it is asked once."""
    import docker.errors

    if _quota.get("size", True):
        try:
            container = c.containers.run(image, storage_opt={"size": str(quota)}, **options)
        except docker.errors.APIError as exc:
            if not any(w in str(exc).lower() for w in ("storage", "quota", "size")):
                raise
            _quota["size"] = False
            try:  # a daemon that refused it at start left the container created
                c.containers.get(options["name"]).remove(force=True)
            except (docker.errors.DockerException, KeyError):
                pass
        else:
            _quota["size"] = True
            return container, True
    return c.containers.run(image, **options), False


def _data_root(c) -> str | None:
    """The daemon's data root when it is on this machine's file system (a local socket), else None."""
    if "root" not in _clients:
        root = None
        try:
            if str(c.api.base_url).startswith("http+docker://local"):
                root = c.info().get("DockerRootDir") or None
        except Exception:  # noqa: BLE001 - no cheap trigger then; the daemon's count still holds
            root = None
        _clients["root"] = root if root and os.path.isdir(root) else None
    return _clients["root"]


def _free(root: str | None) -> int | None:
    if root is None:
        return None
    try:
        st = os.statvfs(root)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


class DiskWatch:
    """Keeps what one container writes under ``limit`` bytes where no storage quota does.

    The daemon counts the container's writable layer (``SizeRw``) by walking it: about 3 ms
    for a few files, 25 to 90 ms for 7,000. So where the daemon's data root is on this
    machine, its free space (one ``statvfs``, microseconds) is read instead, every
    ``WATCH_POLL`` while a command runs and when it ends, and the layer is counted only when
    the disk lost more than the container may still add since the last count, or that count
    is ``RECOUNT_S`` old (another writer freeing space at the same moment cannot hide the
    container's writes for long). Where the root is elsewhere, every command's end is counted,
    and a running command as often as keeps the counting under ``WATCH_SHARE`` of the time."""

    def __init__(self, c, container, limit: int):
        self.api, self.id, self.limit = c.api, container.id, limit
        self.root = _data_root(c)
        self.used = 0
        self.free: int | None = None
        self.counted = self.next_at = 0.0

    def over(self) -> bool:
        """Count now; True when the container holds more than its limit."""
        started = time.monotonic()
        try:
            rows = self.api.containers(all=True, filters={"id": self.id}, size=True)
        except Exception:  # noqa: BLE001 - the container is gone: nothing of it left to count
            rows = []
        self.used = int((rows[0].get("SizeRw") or 0) if rows else 0)
        self.counted = now = time.monotonic()
        self.next_at = now + max(WATCH_POLL, (now - started) / WATCH_SHARE)
        self.free = _free(self.root)
        return self.used > self.limit

    def check(self, ended: bool = False) -> bool:
        """True when the container is past its limit: counted when due (see the class)."""
        now = time.monotonic()
        free = _free(self.root)
        if free is None or self.free is None:
            return self.over() if ended or now >= self.next_at else False
        if self.free - free > self.limit - self.used or now - self.counted >= RECOUNT_S:
            return self.over()
        return not ended and now >= self.next_at and self.over()
