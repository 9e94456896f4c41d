"""A large public repository for ``trajscope bench sandbox --fetch``, from a package registry.

Sandbox costs must follow what changed, not the repository's size, and that only shows on a
repository the size of a real SWE-bench one. Django's source distribution (6,725 files, 69 MB
unpacked) is such a repository that pip can fetch anywhere PyPI is reachable, with no git
history to download; it is fetched once into the user's cache and unpacked there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from trajscope.engine.errors import UserCausedError

SDISTS = {"django": ("django", "4.2.16", "Django-4.2.16")}
"""Name → (PyPI project, version, the folder its sdist unpacks to)."""


class FetchError(UserCausedError):
    """The large repository could not be fetched or unpacked."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "trajscope" / "bench"


def fetch(name: str, cache: Path | None = None) -> Path:
    """The unpacked source of ``name``'s sdist, downloaded with pip the first time."""
    project, version, folder = SDISTS[name]
    cache = cache or cache_dir()
    repo = cache / folder
    if (repo / "PKG-INFO").is_file():
        return repo
    cache.mkdir(parents=True, exist_ok=True)
    archive = cache / f"{folder}.tar.gz"
    if not archive.is_file():
        argv = [sys.executable, "-m", "pip", "download", f"{project}=={version}"]
        argv += ["--no-deps", "--no-binary", ":all:", "--disable-pip-version-check", "-q", "-d", str(cache)]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise FetchError(f"could not run pip to fetch {project} {version}: {exc}") from None
        if done.returncode != 0 or not archive.is_file():
            why = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
            raise FetchError(f"could not fetch {project} {version} from PyPI: {why}")
    partial = cache / f"{folder}.partial"
    shutil.rmtree(partial, ignore_errors=True)  # what an interrupted unpacking left
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(partial, filter="data")  # an archive's links and modes stay inside it
    except (OSError, tarfile.TarError) as exc:
        raise FetchError(f"could not unpack {archive}: {exc}") from None
    (partial / folder).rename(repo)  # whole or not at all: a half unpacked tree is never measured
    partial.rmdir()
    return repo
