"""`make demo` installs the torch build the machine can use, says which, and shows the download
(issue 31, item 2.5: it fetched 6.2 GB of CUDA wheels behind pip --quiet on a machine with no GPU)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.subprocess
ROOT = Path(__file__).resolve().parents[2]
NO_GPU_PATH = "/usr/bin:/bin"


def install_lines(tmp_path: Path, path: str, **env: str) -> list[str]:
    """What `make` would run to install trajscope into a new venv (``make -n``: nothing runs)."""
    venv = tmp_path / "venv"
    environ = {k: v for k, v in os.environ.items() if k != "TORCH"} | {"PATH": path} | env
    out = subprocess.run(
        ["make", "-n", "-C", str(ROOT), f"VENV={venv}", f"{venv}/bin/trajscope"],
        capture_output=True,
        text=True,
        env=environ,
        timeout=30,
        check=True,
    ).stdout
    return [line for line in out.splitlines() if "installing torch" in line or "pip install --progress-bar" in line]


@pytest.fixture(autouse=True)
def _make_here():
    if shutil.which("make", path=NO_GPU_PATH) is None or shutil.which("nvidia-smi", path=NO_GPU_PATH):
        pytest.skip("needs make in /usr/bin or /bin, and no nvidia-smi there")


def test_without_a_gpu_the_cpu_build_is_installed_and_said(tmp_path):
    said, install = install_lines(tmp_path, NO_GPU_PATH)
    assert "the CPU build" in said and "no NVIDIA GPU" in said
    assert "--index-url https://download.pytorch.org/whl/cpu" in install and "--quiet" not in install


def test_with_nvidia_smi_pypi_torch_is_installed_and_said(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nvidia-smi").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "nvidia-smi").chmod(0o755)
    said, install = install_lines(tmp_path, f"{bin_dir}:{NO_GPU_PATH}")
    assert "the CUDA build from PyPI" in said
    assert "--index-url" not in install and "--quiet" not in install


def test_a_requirement_given_as_ci_gives_it_wins(tmp_path):
    said, install = install_lines(tmp_path, NO_GPU_PATH, TORCH="torch==2.13.0")
    assert "torch==2.13.0, as TORCH says" in said
    assert '"torch==2.13.0"' in install and "--index-url" not in install
    assert 'export TORCH="torch==2.13.0"' in (ROOT / ".ci" / "run").read_text()  # what CI gives
