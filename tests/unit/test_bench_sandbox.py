"""``trajscope bench sandbox``: any repository is measured, and the large one is fetched once, safely."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from trajscope.tui.bench import large_repo
from trajscope.tui.bench.large_repo import FetchError, fetch
from trajscope.tui.bench.sandbox import measure


def _sdist(cache: Path, members: dict[str, bytes], link: tuple[str, str] | None = None) -> None:
    folder = large_repo.SDISTS["django"][2]
    with tarfile.open(cache / f"{folder}.tar.gz", "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(f"{folder}/{link[0]}")
            info.type, info.linkname = tarfile.SYMTYPE, link[1]
            tar.addfile(info)


def test_fetch_unpacks_the_cached_sdist_once(tmp_path, monkeypatch):
    _sdist(tmp_path, {"PKG-INFO": b"Name: Django\n", "django/__init__.py": b"VERSION = 1\n"})
    monkeypatch.setattr(large_repo.subprocess, "run", lambda *a, **k: pytest.fail("pip ran for a cached sdist"))
    repo = fetch("django", tmp_path)
    assert (repo / "django" / "__init__.py").read_text() == "VERSION = 1\n"
    (repo / "marker").write_text("kept")
    assert fetch("django", tmp_path) == repo and (repo / "marker").exists()  # unpacked once


def test_fetch_refuses_an_archive_that_leads_out_of_its_folder(tmp_path):
    _sdist(tmp_path, {"PKG-INFO": b"Name: Django\n"}, link=("escape", "/etc/passwd"))
    with pytest.raises(FetchError, match="could not unpack"):
        fetch("django", tmp_path)
    assert not (tmp_path / large_repo.SDISTS["django"][2]).exists()  # nothing half unpacked is measured


def test_bench_measures_any_folder(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("X = 1\n")
    (tmp_path / "README").write_text("hi\n")
    out = measure("local", repeat=2, repo=str(tmp_path), path=False)
    assert {"open_s", "true", "snapshot", "restore", "restore_cmd", "first_fork", "fork", "close"} <= set(out)
    assert out["fork"]["n"] == 3 and out["snapshot"]["n"] == 2
    assert (tmp_path / "pkg" / "mod.py").read_text() == "X = 1\n"  # the folder measured is a copy
