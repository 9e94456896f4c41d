"""What counts as a change the engine must not trust in a Docker container's layer (no Docker
needed: the daemon's diff as it answers it, and an upper layer as overlay2 lays it out)."""

from __future__ import annotations

import os
from pathlib import Path

from trajscope.engine.sandbox.tamper import changed_outside, upper_changes

PATH = "/usr/local/bin:/usr/bin:/bin"


def test_the_repository_and_scratch_places_are_free_and_the_system_is_not():
    changes = [
        {"Path": p, "Kind": k}
        for p, k in [
            ("/repo", 0),
            ("/repo/a.py", 1),
            ("/tmp", 0),
            ("/tmp/x", 1),
            ("/var/tmp/y", 1),
            ("/var", 0),
            ("/var/lib", 0),
            ("/var/lib/trajscope", 1),
            ("/var/lib/trajscope/index", 1),
            ("/ts", 1),
        ]
    ]
    assert changed_outside(changes, {"/ts"}, "/repo", PATH) == []
    for planted in ("/usr/bin/git", "/etc/ld.so.preload", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/etc/gitconfig"):
        parent = os.path.dirname(planted)
        assert changed_outside(
            changes + [{"Path": parent, "Kind": 0}, {"Path": planted, "Kind": 1}], {"/ts"}, "/repo", PATH
        ) == [planted]
    # a folder whose own metadata changed (nothing below it listed) counts; a deletion counts
    assert changed_outside([{"Path": "/usr/bin", "Kind": 0}], set(), "/repo", PATH) == ["/usr/bin"]
    assert changed_outside([{"Path": "/usr/bin/git", "Kind": 2}], set(), "/repo", PATH) == ["/usr/bin/git"]
    # a folder of the image's PATH below a scratch place is not free
    assert changed_outside([{"Path": "/tmp/bin/git", "Kind": 1}], set(), "/repo", "/tmp/bin:" + PATH) == [
        "/tmp/bin/git"
    ]
    # HOME is not scratch: a user site's usercustomize.py or a git config there runs in the next branch
    for planted in ("/root/.local/lib/python3.11/site-packages/usercustomize.py", "/root/.gitconfig"):
        assert changed_outside([{"Path": planted, "Kind": 1}], set(), "/repo", PATH) == [planted]
    # the repository path is the task's, wherever it is
    assert changed_outside([{"Path": "/testbed/x", "Kind": 1}], set(), "/testbed", PATH) == []
    assert changed_outside([{"Path": "/repo/x", "Kind": 1}], set(), "/testbed", PATH) == ["/repo/x"]


def test_an_upper_layer_is_read_where_nothing_may_change_and_links_are_not_followed(tmp_path: Path):
    up = tmp_path / "diff"
    for folder in ("repo/pkg", "tmp", "var/lib/trajscope/store.git", "usr/sbin", "var/tmp/x"):
        (up / folder).mkdir(parents=True)
    (up / "repo/pkg/a.py").write_text("x")
    (up / "usr/sbin/docker-init").write_text("")
    (up / "ts").mkdir()
    (up / "repo/escape").symlink_to("/usr")
    baseline = set(upper_changes(str(up), set(), "/repo", PATH))
    assert baseline == {"/usr/sbin/docker-init", "/ts"}
    assert upper_changes(str(up), baseline, "/repo", PATH) == []
    (up / "usr/bin").mkdir()
    (up / "usr/bin/git").write_text("#!/bin/sh\n")
    (up / "etc").mkdir()
    (up / "etc/ld.so.preload").symlink_to("/tmp/evil.so")  # a link is an entry, never followed
    (up / "lib").mkdir()  # an empty folder: a new one, or a changed mode
    assert sorted(upper_changes(str(up), baseline, "/repo", PATH)) == ["/etc/ld.so.preload", "/lib", "/usr/bin/git"]
    deep = up / "opt"
    for _ in range(80):
        deep = deep / "d"
    deep.mkdir(parents=True)
    assert "/opt/" + "/".join(["d"] * 64) in upper_changes(str(up), baseline, "/repo", PATH, stop=100)
    try:
        upper_changes(str(tmp_path / "gone"), baseline, "/repo", PATH)
    except OSError:
        pass
    else:
        raise AssertionError("a layer that cannot be read must not look clean")
