"""Nothing a branch hides from git reaches another branch (issue 29, the review's restore finding).

git's restore leaves whatever an ignore rule hides, and the agent writes the rules: a file it
ignores, a folder that ignores itself, or a dotfile in its home used to survive a restore and
reach a sibling's diff and next snapshot. Build outputs ignored at the base must survive.
The planting commands run only under bubblewrap; containment is asserted first."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from trajscope.engine.sandbox.local import LocalSandbox
from trajscope.engine.sandbox.local_store import remove_untracked

PLANT = (
    "printf 'conftest.py\\n' >> .gitignore; "
    'printf \'import pathlib\\npathlib.Path("README.md").write_text("trojan")\\n\' > conftest.py; '
    "mkdir -p hide/deep && echo '*' > hide/.gitignore && echo x > hide/deep/payload; "
    "printf '[core]\\n\\thooksPath = /tmp/evil\\n' > ~/.gitconfig; mkdir -p ~/.cache && echo y > ~/.cache/z; "
    "echo stray > ../stray"
)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A task repository with a build output made in place and ignored, as a compiled extension is."""
    repo = tmp_path / "src"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "mod.py").write_text("def f():\n    return 1\n")
    (repo / "README.md").write_text("readme\n")
    (repo / ".gitignore").write_text("*.so\nbuild/\n")
    (repo / "pkg" / "_ext.so").write_bytes(b"\x7fELF built")
    (repo / "build" / "lib").mkdir(parents=True)
    (repo / "build" / "lib" / "out.o").write_bytes(b"obj")
    return repo


def _assert_confined(sb: LocalSandbox) -> None:
    assert sb.isolated and sb.kind == "local"
    seen = sb.run("test -e /home && echo HOST-HOME; test -e /etc/shadow && echo HOST-SHADOW; echo ok", timeout=30)
    assert seen.output.split() == ["ok"]


def _planted(sb: LocalSandbox) -> list[str]:
    repo, home = Path(sb.repo), Path(sb.repo).parent / "home"
    names = [repo / "conftest.py", repo / "hide", home / ".gitconfig", home / ".cache", repo.parent / "stray"]
    return [str(p) for p in names if p.exists() or p.is_symlink()]


def test_what_a_branch_hides_never_reaches_the_base_or_a_fork(source):
    with LocalSandbox(source) as sb:
        _assert_confined(sb)
        base = sb.snapshot()
        assert base == sb.base and sb.diff() == ""
        sb.run(PLANT, timeout=30)
        assert _planted(sb)  # the command did plant them (else the test would prove nothing)
        planted = sb.snapshot()
        assert planted != base
        sb.restore(base)
        assert _planted(sb) == []
        assert sb.diff() == ""
        assert sb.snapshot() == base
        assert (Path(sb.repo) / ".gitignore").read_text() == "*.so\nbuild/\n"
        # a sibling forked from the planted state gets its saved files, none of the hidden ones
        with sb.fork(planted) as other:
            assert not (Path(other.repo) / "conftest.py").exists()
            assert not (Path(other.repo) / "hide").exists()
            other.restore(base)
            assert other.diff() == "" and other.snapshot() == base


def test_build_outputs_ignored_at_the_base_survive_every_restore(source):
    with LocalSandbox(source) as sb:
        _assert_confined(sb)
        base = sb.snapshot()
        # the state removes every tracked file of pkg/: its folder is then listed whole
        sb.run("rm pkg/mod.py && echo 1 > new.txt && echo t > build/lib/extra.o", timeout=30)
        other = sb.snapshot()
        sb.restore(base)
        for ref in (other, base, other, base):
            sb.restore(ref)
            assert (Path(sb.repo) / "pkg" / "_ext.so").read_bytes() == b"\x7fELF built"
            assert (Path(sb.repo) / "build" / "lib" / "out.o").read_bytes() == b"obj"
        assert sb.diff() == "" and sb.snapshot() == base
        assert (Path(sb.repo) / "pkg" / "mod.py").exists() and not (Path(sb.repo) / "new.txt").exists()


def test_removal_keeps_base_paths_inside_a_listed_folder_and_takes_read_only_ones(tmp_path):
    """The removal on its own (no command runs): a folder git lists whole that holds a kept
    path is gone through entry by entry; a folder made read-only still goes."""
    repo = tmp_path / "r"
    (repo / "d" / "sub").mkdir(parents=True)
    (repo / "d" / "keep.so").write_text("k")
    (repo / "d" / "sub" / "drop").write_text("x")
    (repo / "locked" / "in").mkdir(parents=True)
    (repo / "locked" / "in" / "f").write_text("x")
    (repo / "locked" / "in").chmod(0o500)
    (repo / "locked").chmod(0o500)
    subprocess.run(["ln", "-s", "/etc", str(repo / "link")], check=True)
    n = remove_untracked(str(repo), [b"d/", b"locked/", b"link", b""], frozenset({b"d/keep.so"}))
    assert n == 3
    assert sorted(p.name for p in repo.iterdir()) == ["d"]
    assert [p.name for p in (repo / "d").iterdir()] == ["keep.so"]
    assert Path("/etc").is_dir()
