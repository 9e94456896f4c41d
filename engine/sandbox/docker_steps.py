"""The engine's own steps in an agent's container, as shell scripts: saving and restoring a state.

They run in a container whose programs the engine trusts only while the daemon says no command
changed them (``engine.sandbox.tamper``), through one ``docker exec`` each, and no process of an
agent's is alive while they do (every command's processes are killed at its end), so nothing
can swap a path between what a script lists and what it removes. Costs follow what changed:
each script stats the repository's files once (git's index of the engine's last step tells
what a command touched) and walks its folders once for new paths; what it reads, writes or
sends beyond that is what differs (docs/architecture.md section 3).
"""

from __future__ import annotations

import shlex

from trajscope.engine.sandbox.git_store import GitStore

# Commits are made with fixed dates, so that the same tree saved in two containers is
# the same state (the keeper holds it once).
FIXED_DATES = "GIT_AUTHOR_DATE='@0 +0000' GIT_COMMITTER_DATE='@0 +0000'"


def snapshot_script(prelude: str, base: str, limit: int, over: str, index_sum: str = "", listed: str = "") -> str:
    """The script that commits an agent container's work tree in its own store and prints the
    commit, then the hash of the index it leaves (``index_sum``), then a pack of the objects
    the keeper lacks (``--local``: not those it lends). ``over``: the sentence that refuses
    changed files holding more than ``limit`` bytes. ``listed``: a file of the engine's where
    the changed paths are listed once, for the check and then for git to stage (one walk of
    the tree, not two)."""
    q = shlex.quote(listed)
    measured = (
        f"rm -rf {q}\ng ls-files -z -m > {q}\ng ls-files -z -o --exclude-standard >> {q}\n"
        f"N=$(du -cb --files0-from={q} 2>/dev/null | tail -n 1)\n"
        if listed
        else "N=$(g ls-files -z -m -o --exclude-standard | du -cb --files0-from=- 2>/dev/null | tail -n 1)\n"
    )
    # changed paths first (a file that became a folder leaves the index before the folder's
    # files come in); a folder listed whole is a nested repository, which is not saved
    # (never add: git_store.STAGE)
    stage = (
        GitStore.fix_modes(q)
        + f"grep -zv '/$' {q} | g update-index -z --add --remove --replace --stdin 2>/dev/null || stage\nrm -f {q}\n"
        if listed
        else "stage\n"
    )
    return (
        prelude
        + f"export {FIXED_DATES}\n"
        # what git would add, measured before it reads (and copies) any of it: a pack past
        # the limit is refused in a moment, not after minutes of compressing
        + measured
        + f'if [ "${{N%%[!0-9]*}}" -gt {limit} ] 2>/dev/null; then echo {shlex.quote(over)} >&2; exit 1; fi\n'
        + stage
        + "T=$(g write-tree)\n"
        f'if [ "$T" = "$(g rev-parse {base}^{{tree}})" ]; then C={base}; '
        f'else C=$(g commit-tree -p {base} -m snapshot "$T"); fi\n'
        "printf '%s\\n' \"$C\"\n"
        + index_sum
        + f"printf '%s\\n^%s\\n' \"$C\" {base} | g pack-objects --revs --local --stdout -q\n"
    )


def restore_script(
    git: GitStore,
    ref: str,
    scratch: tuple[str, ...],
    scratch_kept: list[str],
    store: str,
    base_ignored: str,
    ignored: tuple[str, str] | None,
    index_sum: str,
) -> str:
    """The restore, run where the layer check trusts the container's programs. Besides the
    saved files it removes every untracked path but those git ignored in the base
    (``base_ignored``: the work tree's own ignore rules are the agent's to write, so a file it
    hid that way would otherwise outlive the restore and join the next branch's state), the
    folders left empty (git keeps none, so a fork has none), and what commands left in the
    ``scratch`` places but ``scratch_kept`` (a later branch could import or source it from
    there). ``store``: the lines that make the engine's store anew (``tamper.engine_store``)."""
    q = shlex.quote(git.repo)
    kept = "|".join(shlex.quote(p) for p in scratch_kept) or "''"
    listed = shlex.quote(git.index + ".untracked")
    excluded = f"--exclude-from={shlex.quote(base_ignored)}"
    return (
        # a repository root that a command removed or replaced (a link, a file) is made an
        # empty directory again before git fills it, so git never walks through a link
        f"if [ -L {q} ] || [ ! -d {q} ]; then rm -f {q}; mkdir -p {q}; fi\n"
        + "for f in "
        + " ".join(f"{d}/* {d}/.[!.]* {d}/..?*" for d in scratch)
        + "; do\n"
        f'  case "$f" in {kept}) ;; *) if [ -e "$f" ] || [ -L "$f" ]; then rm -rf -- "$f"; fi;; esac\n'
        "done\n"
        + store
        + git.restore(ref, ignored=ignored)
        # One walk of the folders: a path outside every tracked folder is named once as a whole
        # folder (``d/``); git lists no path below a link, and only the engine's patterns of the
        # base's ignored paths count, never a .gitignore of the work tree's.
        + f"rm -rf {listed}\ng ls-files -z -o --directory {excluded} > {listed}\n"
        + f"grep -zv '/$' {listed} | xargs -0 -r rm -rf --\n"
        # a whole folder may hold the base's ignored files: only what else is in it goes, file
        # by file, then the folders in it left empty (an empty folder a command made included)
        + f"if grep -qz '/$' {listed}; then\n"
        "  export -f g\n"
        f"  grep -z '/$' {listed} | xargs -0 -r bash -c "
        + shlex.quote(f'g --literal-pathspecs ls-files -z -o {excluded} -- "$@"')
        + " _ | xargs -0 -r rm -rf --\n"
        f"  grep -z '/$' {listed} | sed -z 's|^|./|' | "
        "xargs -0 -r sh -c 'find \"$@\" -depth -type d -empty -delete' find\nfi\n"
        f"rm -f {listed}\n" + index_sum
    )
