"""Building trajscope's base image: Python 3, git and pytest, nothing else.

Where a registry answers, the image is built from a Dockerfile on
``python:3.11-slim``. Where none does (an offline machine with a Debian
mirror), it is imported from a root file system that debootstrap makes. Either
way it is tagged ``trajscope/base:1`` and reused when it is already there.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from trajscope.engine.sandbox.base import SandboxError
from trajscope.engine.sandbox.docker import BASE_IMAGE, LABEL, client

DOCKERFILE = """\
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends git patch \\
    && rm -rf /var/lib/apt/lists/* && pip install --no-cache-dir pytest
LABEL trajscope.sandbox=1
"""
DEBIAN_SUITE = "bookworm"
DEBIAN_PACKAGES = "python3,python3-pytest,git,patch"


def registry_reachable(host: str = "registry-1.docker.io", timeout: float = 3.0) -> bool:
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def image_exists(tag: str = BASE_IMAGE) -> bool:
    import docker.errors

    try:
        client().images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def build_image(
    tag: str = BASE_IMAGE,
    method: str = "auto",
    force: bool = False,
    mirror: str | None = None,
    say: Callable[[str], None] = print,
) -> str:
    """Build the base image (or reuse it); returns how: reused, dockerfile or debootstrap."""
    client()  # a clear error first when there is no engine
    if not force and image_exists(tag):
        say(f"{tag} is already there; reusing it (--force rebuilds)")
        return "reused"
    if method == "auto":
        method = "dockerfile" if registry_reachable() else "debootstrap"
        say(f"{'a registry answers' if method == 'dockerfile' else 'no registry answers'}: building with {method}")
    if method == "dockerfile":
        _from_dockerfile(tag, say)
    elif method == "debootstrap":
        _from_debootstrap(tag, mirror, say)
    else:
        raise SandboxError(f"unknown build method {method!r}: use auto, dockerfile or debootstrap")
    say(f"built {tag}")
    return method


def _from_dockerfile(tag: str, say: Callable[[str], None]) -> None:
    import docker.errors

    try:
        _, logs = client().images.build(fileobj=io.BytesIO(DOCKERFILE.encode()), tag=tag, rm=True, labels={LABEL: "1"})
        for chunk in logs:
            line = str(chunk.get("stream", "")).strip()
            if line.startswith("Step "):
                say(line)
    except docker.errors.DockerException as exc:
        raise SandboxError(f"building {tag} from the Dockerfile failed: {str(exc).strip().splitlines()[-1]}") from None


def _from_debootstrap(tag: str, mirror: str | None, say: Callable[[str], None]) -> None:
    exe = shutil.which("debootstrap")
    if not exe:
        raise SandboxError("no registry answers and debootstrap is not installed (apt-get install debootstrap)")
    if os.geteuid() != 0:
        raise SandboxError("debootstrap needs root: run `sudo trajscope sandbox build-image`")
    with tempfile.TemporaryDirectory(prefix="trajscope-rootfs-") as tmp:
        root = Path(tmp) / "root"
        cmd = [exe, "--variant=minbase", f"--include={DEBIAN_PACKAGES}", DEBIAN_SUITE, str(root)]
        if mirror:
            cmd.append(mirror)
        say(f"debootstrap {DEBIAN_SUITE} with {DEBIAN_PACKAGES} (about a minute)")
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            last = (proc.stderr or proc.stdout).strip().splitlines()
            raise SandboxError(f"debootstrap failed: {last[-1] if last else proc.returncode}")
        (root / "usr/bin/python").unlink(missing_ok=True)
        (root / "usr/bin/python").symlink_to("python3")  # agents type `python`
        shutil.rmtree(root / "var/cache/apt/archives", ignore_errors=True)
        tarball = Path(tmp) / "root.tar"
        say("importing the root file system")
        subprocess.run(["tar", "-C", str(root), "-cf", str(tarball), "."], check=True)
        repository, _, version = tag.rpartition(":")
        client().api.import_image_from_file(
            str(tarball),
            repository=repository or tag,
            tag=version or "latest",
            changes=[f"LABEL {LABEL}=1", "WORKDIR /", 'CMD ["bash"]'],
        )
