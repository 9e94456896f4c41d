"""The Docker engine as the sandboxes reach it: one client per process (a clear sentence
when the daemon cannot be reached), the labels every container and volume of trajscope's
carries (its host and process), and the removal of what a crashed or killed run left."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
from pathlib import Path

from engine.sandbox.base import SandboxError
from engine.sandbox.confine import alive
from engine.sandbox.container import short_error

LABEL = "trajscope.sandbox"
OWNER = "trajscope.owner"
SESSION = "trajscope.session"
BASE_IMAGE = "trajscope/base:1"
_CLIENT_TIMEOUT = 3600
_client_lock = threading.Lock()
_clients: dict[str, object] = {}


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
