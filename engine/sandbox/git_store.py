"""The snapshot store: the shell scripts over git that save and restore a sandbox's states.

A state is saved as a git commit in a bare repository kept outside the working tree (so
the agent's own ``git`` never sees it) and shared by every sandbox forked from the same
root, so a state saved in one sandbox can be restored in another. A state reference is the
id of a commit whose tree is the working tree at that moment; identical states get the same
reference. Ignored files (``.gitignore`` and build outputs such as ``__pycache__``) are not
saved with a state, and git's restore leaves them in place: the sandboxes then remove every
untracked path that was not there at the base, and put the base's back as they were (saved
apart, ``GitStore.save_ignored``). Both sandboxes run these scripts: a local one on the host,
a Docker one in its container.
"""

from __future__ import annotations

import os
import shlex

from trajscope.engine.sandbox.base import StateRef
from trajscope.engine.sandbox.git_lines import check_ref, leave_index, put_back_ignored, regain_ignored
from trajscope.engine.sandbox.programs import trusted_path

BUILD_EXCLUDES = (
    "__pycache__/",
    "*.py[cod]",
    ".pytest_cache/",
    "*.egg-info/",
    ".mypy_cache/",
    ".ruff_cache/",
    ".tox/",
    ".nox/",
    ".coverage",
)

_BASE_REF = "refs/trajscope/base"
GIT_HEAP_KB = 2 << 20
"""The most heap (``RLIMIT_DATA``, KiB) the engine's git may take: 2 GiB."""

UNTRACKED_MARK = "//untracked"
"""Separates a restore's changed paths from its untracked ones: no git path holds ``//``."""
ALL_MARK, TRACKED_MARK = "//all", "//tracked"
"""After ``UNTRACKED_MARK`` where ``restore`` was given ``tracked_in``: ``ALL_MARK`` and every
untracked path (it had to hash the work tree: no index), or the paths a command changed, then
``TRACKED_MARK`` and the paths the state tracks in the folders asked for and theirs."""

# The store's attributes come first: every attribute that could make git convert or run
# something (filters, text and eol conversion, ident, encodings, diff and merge drivers)
# is unspecified for every path, whatever a .gitattributes in the work tree says.
GIT_ATTRIBUTES = "* !filter !text !eol !ident !working-tree-encoding !diff !merge !crlf !export-subst"


def git_env(home: str, path: str | None = None) -> dict[str, str]:
    """The whole environment for engine-side git: nothing inherited, a HOME of the engine's, and
    a PATH of the system's folders only (``programs``): never a folder the user or an agent can write."""
    return {
        "PATH": path or trusted_path(),
        "HOME": home,
        "XDG_CONFIG_HOME": home,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "LC_ALL": "C",
    }


# What ``git add -A`` stages, without ``add`` and without nested repositories: add (and
# diff-files unless told to ignore what is inside them) runs ``git status`` in each nested
# repository the index tracks, and that git reads the repository's own config and
# attributes (a clean filter a command wrote there would run on the host, as the engine's
# user); and to save one as a gitlink git reads its HEAD, wherever its ``.git`` leads (a
# host file, a FIFO). A nested repository a command makes (``ls-files -o`` lists it as
# ``d/``) is not saved: it stays in its branch's work tree until the next restore removes
# it. Deleted paths leave first (diff-files: also those below a link now), then what changed
# and what is new.
STAGE = (
    "stage() {\n"
    '  g diff-files --ignore-submodules=dirty --diff-filter=D --name-only -z > "$GIT_INDEX_FILE.gone"\n'
    '  g update-index -z --force-remove --stdin < "$GIT_INDEX_FILE.gone"\n'
    "  { g ls-files -z -m; g ls-files -z -o --exclude-standard; } | grep -zv '/$' > \"$GIT_INDEX_FILE.staged\" || true\n"
    '  g update-index -z --add --remove --replace --stdin < "$GIT_INDEX_FILE.staged"\n'
    '  rm -f "$GIT_INDEX_FILE.gone" "$GIT_INDEX_FILE.staged"\n'
    "}\n"
)


class GitStore:
    """Shell scripts over the snapshot store at ``store`` for the work tree ``repo``.

    Every script sets the git environment itself, so it can run through any
    shell the sandbox offers (a local process or ``docker exec``).
    """

    def __init__(self, store: str, repo: str, index: str):
        self.store, self.repo, self.index = store, repo, index
        self.objects: str | None = None

    def quarantined(self, objects: str) -> "GitStore":
        """The same scripts, with what git writes going to ``objects`` (the store is read as
        its alternate): the caller measures it and moves it in, or drops it."""
        other = GitStore(self.store, self.repo, self.index)
        other.objects = objects
        return other

    def _prelude(self) -> str:
        q = shlex.quote
        # The work tree is the agent's: git must take no program, hook, filter or setting
        # from it or from any config the agent could have written. Only the store's own
        # config and attributes (written here, out of the agent's reach) and the flags
        # below count; the caller gives git a HOME of the engine's (see git_env).
        return (
            "set -e\numask 022\n"  # what git writes is 644 or 755, as the first copy is
            # git reads a ref whole: one a command links to /dev/zero would take the host's
            # memory; past this much heap (packs are mapped, not counted) it fails in a sentence
            f"ulimit -d {GIT_HEAP_KB} 2>/dev/null || true\n"
            f"export GIT_DIR={q(self.store)} GIT_WORK_TREE={q(self.repo)} GIT_INDEX_FILE={q(self.index)}\n"
            + (
                f"export GIT_OBJECT_DIRECTORY={q(self.objects)} GIT_ALTERNATE_OBJECT_DIRECTORIES={q(self.store)}/objects\n"
                if self.objects
                else ""
            )
            + "export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_ATTR_NOSYSTEM=1 "
            "GIT_TERMINAL_PROMPT=0 GIT_NO_REPLACE_OBJECTS=1 GIT_OPTIONAL_LOCKS=0 LC_ALL=C "
            "HOME=${HOME:-/tmp}\n"
            "unset GIT_CONFIG GIT_CONFIG_PARAMETERS GIT_CONFIG_COUNT GIT_EXTERNAL_DIFF GIT_ASKPASS "
            "GIT_SSH GIT_SSH_COMMAND GIT_EXEC_PATH GIT_TEMPLATE_DIR XDG_CONFIG_HOME\n"
            "g() { git -c user.name=trajscope -c user.email=trajscope@localhost "
            "-c safe.directory='*' -c core.autocrlf=false -c core.fsmonitor=false "
            "-c core.hooksPath=/dev/null -c core.attributesFile=/dev/null -c core.excludesFile=/dev/null "
            "-c core.untrackedCache=false -c core.splitIndex=false -c core.symlinks=true "
            "-c submodule.recurse=false -c core.pager=cat -c protocol.allow=never "
            '-c gc.auto=0 -c advice.detachedHead=false "$@"; }\n' + STAGE + f"cd {q(self.repo)}\n"
        )

    def init(self) -> str:
        """Create the store (when new) and save the base state; prints its ref."""
        q = shlex.quote
        excludes = "\n".join(BUILD_EXCLUDES)
        return (
            f"if [ ! -f {q(self.store)}/HEAD ]; then\n"
            f"  GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null git init -q --bare --template= {q(self.store)}\n"
            f"  mkdir -p {q(self.store)}/info\n"
            f"  printf '%s\\n' {q(excludes)} > {q(self.store)}/info/exclude\n"
            f"  printf '%s\\n' {q(GIT_ATTRIBUTES)} > {q(self.store)}/info/attributes\n"
            "fi\n" + self._prelude() + "stage\nT=$(g write-tree)\n"
            f"C=$(g rev-parse -q --verify {_BASE_REF} || true)\n"
            f'if [ -z "$C" ]; then C=$(g commit-tree -m base "$T"); g update-ref {_BASE_REF} "$C"; '
            'g update-ref refs/trajscope/trees/$T "$C"\n'
            # one pack, no deltas (no time spent looking for them): a restore then reads the
            # base's trees from one mapped file, not from one loose file per object
            "  g -c repack.writeBitmaps=false -c pack.writeReverseIndex=false repack -a -d -q --window=0\nfi\n"
            'echo "$C"\n'
        )

    def save_ignored(self, index: str) -> str:
        """Save the files of the work tree the base's index does not track (ignored ones: build
        outputs made in place) as a tree of their own, with ``index`` as its index; prints the
        tree, then the paths, NUL-separated. A fork's new work tree gets them from it, and every
        restore puts them back as they were at the base (``restore``'s ``ignored``). A nested
        repository (a folder listed whole) is not saved."""
        q = shlex.quote
        listed = q(index + ".listed")
        return (
            self._prelude()
            + f"rm -f {q(index)}\n{self._untracked_files} | grep -zv '/$' > {listed} || true\n"
            + f"GIT_INDEX_FILE={q(index)} g update-index -z --add --stdin < {listed}\n"
            + f"GIT_INDEX_FILE={q(index)} g write-tree\ncat {listed}\nrm -f {listed}\n"
        )

    def _tracked_listing(self, folders: list[bytes]) -> str:
        """Shell lines printing the paths a command changed (``<index>.moved``), ``TRACKED_MARK``,
        then the paths the index tracks in ``folders`` and in the folders of those changed paths
        (a changed path the state lacks stays in the work tree, untracked, for the caller to
        find there). Paths reach git as literal pathspecs, through a file, never as words."""
        moved, specs = shlex.quote(self.index + ".moved"), shlex.quote(self.index + ".specs")
        named = " ".join(shlex.quote(os.fsdecode(f) or ".") for f in folders)
        return (
            f"cat {moved}\nprintf '{TRACKED_MARK}\\0'\n"
            + (f"printf '%s\\0' {named} > {specs}\n" if folders else f": > {specs}\n")
            + f"sed -z -e 's|/[^/]*$||;t;s|.*|.|' {moved} >> {specs}\n"
            + f"if [ -s {specs} ]; then export -f g; xargs -0 -r bash -c "
            + shlex.quote('g --literal-pathspecs ls-files -z -- "$@"')
            + f" _ < {specs}; fi\nrm -f {moved} {specs}\n"
        )

    def snapshot(self, size_limit: int = 0, what: str = "", untracked_in: list[bytes] | None = None) -> str:
        """Commit the work tree (once per distinct tree); prints the ref, followed by its tree
        when the commit is new: the caller files it under ``refs/trajscope/trees/<tree>`` once
        its objects are in the store (a quarantined script cannot know whether they will be).
        ``size_limit``: first fail (exit 4) when the changed files hold more than that many bytes,
        before any of them is read (``what`` names the limit); the files it lists (changed, deleted, new and not ignored: what ``add -A`` stages) are then
        staged from that list, so the tree is walked once, not twice; the list stays in
        ``<index>.changed`` for the caller, which gives those files the modes git saved and
        removes it (on the host, never through a link: ``host_files.set_git_modes``).
        ``untracked_in``: the only paths where a new file can be (engine.sandbox.dir_watch), so
        git looks there for new files, not in every folder; all of them where a changed
        ``.gitignore`` could make a file elsewhere count."""
        stage = "stage\n"
        check = ""
        if size_limit:
            listed = shlex.quote(self.index + ".changed")
            # what the index holds first (a file that became a folder leaves it before the
            # folder's files come in), then the new paths
            new_files = f"g ls-files -z -o --exclude-standard >> {listed}\n"
            if untracked_in is not None:
                named = " ".join(shlex.quote(os.fsdecode(p.rstrip(b"/"))) for p in untracked_in)
                looked = (
                    f"printf '%s\\0' {named} | xargs -0 -r bash -c "
                    + shlex.quote('g --literal-pathspecs ls-files -z -o --exclude-standard -- "$@"')
                    + f" _ >> {listed}\n"
                    if untracked_in
                    else ":\n"
                )
                new_files = (
                    f"if grep -qz '\\(^\\|/\\)\\.gitignore$' {listed}; then\n{new_files}else\nexport -f g\n{looked}fi\n"
                )
            check = (f"g ls-files -z -m > {listed}\n" + new_files) + self._refuse_over(
                size_limit, what, f"cat {listed}"
            )
            # a folder listed whole is a nested repository, which is not saved (STAGE); where
            # update-index refuses a path (below a link a command made of a folder), stage
            # takes the deleted paths out first
            stage = (
                f"grep -zv '/$' {listed} | g update-index -z --add --remove --replace --stdin 2>/dev/null || stage\n"
            )
        return (
            self._prelude() + check + stage + "T=$(g write-tree)\n"
            "C=$(g rev-parse -q --verify refs/trajscope/trees/$T || true)\n"
            f'if [ -z "$C" ]; then C=$(g commit-tree -p {_BASE_REF} -m snapshot "$T"); echo "$C $T"; '
            'else echo "$C"; fi\n'
        )

    @staticmethod
    def fix_modes(listed: str) -> str:
        """A shell line that gives the regular files named in ``listed`` (NUL-separated, relative)
        the mode git saves, 644, or 755 where the owner may run them, before they are staged: the
        work tree then holds what a restore or a fork at the state would. find neither follows a
        link at the name nor is given a name that starts with a dash; a folder of the path may be
        a link, so this runs only where that cannot lead out (in the agent's own container)."""
        return (
            f"sed -z 's|^|./|' {listed} | xargs -0 -r sh -c 'find \"$@\" -maxdepth 0 -type f "
            "\\( -perm -u+x ! -perm 755 -exec chmod 755 {} + \\) -o -type f "
            "\\( ! -perm -u+x ! -perm 644 -exec chmod 644 {} + \\)' find 2>/dev/null || true\n"
        )

    @staticmethod
    def _size_within(limit: int, listing: str = "g ls-files -z -m -o --exclude-standard") -> str:
        """A pipeline that fails when the files a snapshot would read (changed or new, not
        ignored; ``listing`` prints them) hold more than ``limit`` bytes: exit 1 when their files do, exit 2 when only
        their names do (hard links, which a restore writes as a file each). Apparent sizes, so
        that sparse files, which cost no disk, cannot make git hash gigabytes of zeros. Links
        are not followed."""
        return (
            f"{listing} | xargs -0 -r stat -c '%s %d:%i' -- 2>/dev/null | "
            f"awk -v max={int(limit)} '{{named += $1; if (!($2 in seen)) {{seen[$2] = 1; held += $1}}}} "
            "END {if (held > max) exit 1; if (named > max) exit 2}'"
        )

    def _refuse_over(self, limit: int, what: str, listing: str = "g ls-files -z -m -o --exclude-standard") -> str:
        held = shlex.quote(f"the changed files hold more than {what}; this state is not saved")
        named = shlex.quote(
            f"the changed files would hold more than {what} once restored (git saves each "
            "hard link as a file of its own); this state is not saved"
        )
        return (
            f"rc=0; {self._size_within(limit, listing)} || rc=$?\n"
            f"if [ $rc = 1 ]; then echo {held} >&2; exit 4; elif [ $rc != 0 ]; then echo {named} >&2; exit 4; fi\n"
        )

    def restore(
        self,
        ref: StateRef,
        scrub: bool = False,
        changed: bool = False,
        size_limit: int = 0,
        untracked: bool = False,
        ignored: tuple[str, str] | None = None,
        known: bool = False,
        tracked_in: list[bytes] | None = None,
    ) -> str:
        """Make the work tree equal to ``ref``'s tracked files; ignored files are left alone, unless
        ``scrub``: then untracked and ignored files go, and tracked ones are put back from the
        index first, so that what filled the disk is removed, never hashed. ``changed``: print
        the paths the restore may have written or removed, NUL-separated. ``untracked``: then
        print ``UNTRACKED_MARK`` and what ``untracked()`` prints, for the caller to remove what
        is not part of the state. ``ignored``: the tree and index of ``save_ignored``; the base's
        ignored files are put back as they were (a state's own file of the same name wins), so a
        restore holds them as a new fork does. ``known``: the caller knows the store holds
        ``ref`` (it saved or restored it), so the script does not check first. ``tracked_in``
        (with ``untracked``): the folders (relative, ``b""`` the root) whose entries changed since
        the last restore (engine.sandbox.dir_watch): rather than walk every folder, print what
        ``ALL_MARK`` and ``TRACKED_MARK`` say, for the caller to look in those folders only.

        With the index of the engine's last step (git's record of every file's stat), the
        restore reads and writes only what differs: git compares each file's stat with the
        index (ctime included, which no command can set back), rewrites what a command changed
        and what differs between the index and ``ref``, and hashes nothing, so no file a
        command wrote is read. Without it, every file is hashed first (``add -A``), after a
        check that the changed files hold at most ``size_limit`` bytes (else untracked and
        ignored files go first, as for ``scrub``)."""
        check_ref(ref)
        put_back = put_back_ignored(*ignored, changed) if ignored else ""
        # Where git hashes the work tree first, an ignore rule a command removed (or a new work
        # tree without its .gitignore yet) makes a base-ignored file part of the old tree, which
        # read-tree then removes: those are put back after, and the state's own files again.
        after = put_back + leave_index(self.index) + f"g read-tree --reset -u {ref}^{{tree}}\n" if ignored else ""
        clean = "g clean -ffdxq; g checkout-index -a -f -q"
        hashed = (
            (f"if ! {self._size_within(size_limit)}; then {clean}; fi\n" if size_limit else "")
            + "stage\nOLD=$(g write-tree)\n"
            + f'g read-tree --reset -u "$OLD" {ref}^{{tree}}\n'
            + (f'g diff-tree -r --name-only -z "$OLD" {ref}^{{tree}}\n' if changed else "")
            + after
        )
        # What a command changed (diff-files: stat against the index; a path below a link
        # counts as removed) leaves the index first, so read-tree writes it whatever its stat
        # says through that link. The index is then exactly the tree OLD (write-tree reuses its
        # cache of every folder the command left alone), and a two-tree read-tree from OLD to
        # the state touches only the paths that differ between the two trees: a one-tree one
        # would stat every file of the repository a second time. A path a command changed that
        # the state lacks is in neither tree: it stays, untracked, for the caller to remove.
        watched = untracked and tracked_in is not None
        everything = f"printf '{UNTRACKED_MARK}\\0{ALL_MARK}\\0'\n{self._untracked}\n" if watched else ""
        hashed += everything
        compared = (
            put_back
            + leave_index(self.index, keep=watched)
            + "OLD=$(g write-tree)\n"
            + (f'g diff-tree -r --name-only -z "$OLD" {ref}^{{tree}}\n' if changed else "")
            + f'g read-tree --reset -u "$OLD" {ref}^{{tree}}\n'
            + (regain_ignored(ignored[1], changed) if ignored else "")
            + (f"printf '{UNTRACKED_MARK}\\0'\n" + self._tracked_listing(tracked_in or []) if watched else "")
        )
        return (
            self._prelude()
            + (
                ""
                if known
                else f"g cat-file -e {ref}^{{tree}} 2>/dev/null || {{ echo 'unknown state {ref}' >&2; exit 3; }}\n"
            )
            + (
                f'{clean}\nstage\nOLD=$(g write-tree)\ng read-tree --reset -u "$OLD" {ref}^{{tree}}\n'
                + (f'g diff-tree -r --name-only -z "$OLD" {ref}^{{tree}}\n' if changed else "")
                + after
                + everything
                if scrub
                else f'if [ -f "$GIT_INDEX_FILE" ] && [ ! -L "$GIT_INDEX_FILE" ]; then\n{compared}else\n{hashed}fi\n'
            )
            + (f"printf '{UNTRACKED_MARK}\\0'\n{self._untracked}\n" if untracked and not watched else "")
        )

    def refresh(self, *others: str) -> str:
        """Record the files' current stat in the index (and the ``others``) where only their stat
        changed (each such file is read once; git writes no object)."""
        more = "".join(
            f"GIT_INDEX_FILE={shlex.quote(i)} g update-index -q --refresh >/dev/null || true\n" for i in others
        )
        return self._prelude() + "g update-index -q --refresh >/dev/null || true\n" + more

    def refresh_paths(self, listed: str) -> str:
        """Record the current stat of the tracked files named in ``listed`` (NUL-separated,
        relative, each one there) in the index; each is read once, and git writes no object
        for content the store holds. Other paths named are left alone."""
        return self._prelude() + f"g update-index -z --remove --stdin < {shlex.quote(listed)} || true\n"

    # No ignore rule at all, the store's own neither: a rule in the work tree is the agent's,
    # and whatever a rule hides is neither saved nor removed by read-tree. Whole untracked
    # folders are named once (``d/``), nested repositories included.
    _untracked = "g ls-files -z -o --directory"
    _untracked_files = "g ls-files -z -o"  # file by file: a folder's own files, not the folder

    def tracked(self, folders: list[bytes]) -> str:
        """Prints the paths the index tracks in ``folders`` (relative, ``b""`` the root), NUL-separated."""
        if b"" in folders:
            return self._prelude() + "g ls-files -z\n"
        named = " ".join(shlex.quote(os.fsdecode(f)) for f in folders)
        return self._prelude() + f"g --literal-pathspecs ls-files -z -- {named}\n"

    def untracked(self) -> str:
        """Prints every path the index does not track (ignored ones too), NUL-separated."""
        return self._prelude() + self._untracked + "\n"

    def diff(self) -> str:
        """The unified diff of the work tree against the base state."""
        return (
            self._prelude()
            + f"stage\ng diff --cached --ignore-submodules=none --no-color --no-ext-diff --no-renames --binary {_BASE_REF}\n"
        )
