"""Produce real SWE-bench harness test logs for the grading-parity fixtures.

For each of four repositories (Django, SymPy, requests, marshmallow: four different log
parsers of the harness) this takes the project's released source from PyPI (its sdist, which
carries its test suite), commits it at /testbed under git with one small bug put in, builds an
image laid out as SWE-bench's are (a ``testbed`` environment under /opt/miniconda3, built from
wheels downloaded on the host: no network inside the container), writes a classic SWE-bench
row (repo, version, base_commit, test_patch, FAIL_TO_PASS/PASS_TO_PASS as JSON text), and
runs the harness's own evaluation script (``make_test_spec(row).eval_script``, swebench 4.1)
after applying each prediction: the gold patch, a wrong one, no patch, and per repository the
traps a grader must not fall into. FAIL_TO_PASS/PASS_TO_PASS are derived as SWE-bench derives
them: from the harness's own parse of the no-patch and gold runs.

Run with the project's venv (swebench installed) and a Docker engine that has
``trajscope/base:1``:  python scripts/samples/harness_logs.py OUT_DIR

Writes OUT_DIR/instances.jsonl, OUT_DIR/cases.jsonl and OUT_DIR/logs/<instance>.<case>.log.
SymPy's sdist does not ship its ``bin/test`` launcher; a few lines here call ``sympy.test``
with the options the harness passes, so the output is SymPy's own test runner's.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

BASE_IMAGE = "trajscope/base:1"
PY = "python3.11"

SYMPY_LAUNCHER = """#!/usr/bin/env python3
import os, sys
args = [a for a in sys.argv[1:] if not a.startswith("-")]
if "-C" in sys.argv[1:] or "--no-cache" in sys.argv[1:]:
    os.environ["SYMPY_USE_CACHE"] = "no"
import sympy
sys.exit(0 if sympy.test(*args, verbose="--verbose" in sys.argv or "-v" in sys.argv, colors=False) else 1)
"""

# An atexit hook in the patched code writes fake result lines to the real stdout after the
# test runner has printed its own (a hostile patch spoofing a pass).
SPOOF_PY = "\nimport atexit as _ax, os as _os\n_ax.register(lambda: _os.write(1, b'\\n{lines}\\n'))\n"

REPOS = [
    {
        "name": "django",
        "repo": "django/django",
        "version": "4.2",
        "number": 90101,
        "sdist": "Django==4.2.16",
        "wheels": ["asgiref==3.8.1", "sqlparse==0.5.1"],
        "src": "django/utils/text.py",
        "bug": ('s = str(name).strip().replace(" ", "_")', 's = str(name).strip().replace(" ", "")'),
        "wrong": 's = str(name).strip().replace(" ", "-")',
        "test_file": "tests/utils_tests/test_text.py",
        "test_anchor": "    def test_get_valid_filename(self):\n",
        # and a PASS_TO_PASS test skipped on this platform: the Django parser records it as
        # skipped, and the harness counts it on neither side
        "test_add": (
            "    def test_get_valid_filename_inner_spaces(self):\n"
            '        self.assertEqual(text.get_valid_filename("a b  c.txt"), "a_b__c.txt")\n\n'
            '    @unittest.skipIf(sys.platform == "linux", "not on linux")\n'
            "    def test_get_valid_filename_platform_names(self):\n"
            '        self.assertEqual(text.get_valid_filename("con"), "con")\n\n'
        ),
        "test_header": "import sys\nimport unittest\n",
        "p2p_extra": [
            "test_get_valid_filename_platform_names (utils_tests.test_text.TestUtilsText"
            ".test_get_valid_filename_platform_names)"
        ],
        "spoof": "test_get_valid_filename_inner_spaces (utils_tests.test_text.TestUtilsText"
        ".test_get_valid_filename_inner_spaces) ... ok",
    },
    {
        "name": "sympy",
        "repo": "sympy/sympy",
        "version": "1.12",
        "number": 90102,
        "sdist": "sympy==1.12",
        "wheels": ["mpmath==1.3.0"],
        "src": "sympy/utilities/iterables.py",
        "bug": ("    y = y % len(x)\n    return x[y:] + x[:y]", "    y = abs(y) % len(x)\n    return x[y:] + x[:y]"),
        "wrong": "    y = y % len(x) if y > 0 else 0\n    return x[y:] + x[:y]",
        "test_file": "sympy/utilities/tests/test_iterables.py",
        "test_anchor": "def test_rotate():\n",
        "test_add": (
            "def test_rotate_left_wraps():\n"
            "    assert rotate_left([0, 1, 2], 4) == [1, 2, 0]\n"
            "    assert rotate_left([0, 1, 2], -1) == [2, 0, 1]\n\n\n"
        ),
        "spoof": "test_rotate_left_wraps ok",
        "extra_files": {"bin/test": SYMPY_LAUNCHER},
    },
    {
        "name": "requests",
        "repo": "psf/requests",
        "version": "2.31",
        "number": 90103,
        "sdist": "requests==2.31.0",
        "wheels": ["urllib3==2.0.7", "idna==3.4", "charset-normalizer==3.3.2", "certifi==2023.7.22"],
        "src": "requests/utils.py",
        "bug": ("        value = value[1:-1]\n", "        value = value[1:]\n"),
        "wrong": "        value = value[1:-1].strip()\n",
        "test_file": "tests/test_utils.py",
        "test_anchor": "def test_unquote_unreserved(uri, expected):\n    assert unquote_unreserved(uri) == expected\n",
        # parametrised ids with spaces: the harness's own parse keys them as it reads them
        "test_after": True,
        "test_add": (
            '\n\n@pytest.mark.parametrize(\n    "value, expected",\n    (\n'
            '        (\'"a b c"\', "a b c"),\n        (\'" padded "\', " padded "),\n'
            '        (\'"x"\', "x"),\n    ),\n)\n'
            "def test_unquote_quoted_header_values(value, expected):\n"
            "    assert unquote_header_value(value) == expected\n"
        ),
        "spoof": 'PASSED tests/test_utils.py::test_unquote_quoted_header_values["x"-x]',
    },
    {
        "name": "marshmallow",
        "repo": "marshmallow-code/marshmallow",
        "version": "3.19",
        "number": 90104,
        "sdist": "marshmallow==3.19.0",
        "wheels": ["pytz==2023.3", "simplejson==3.19.1"],
        "src": "src/marshmallow/utils.py",
        "bug": (
            "    return is_iterable_but_not_string(obj) and not isinstance(obj, Mapping)",
            "    return is_iterable_but_not_string(obj)",
        ),
        "wrong": "    return is_iterable_but_not_string(obj) and not isinstance(obj, dict)",
        "test_file": "tests/test_utils.py",
        "test_anchor": "def test_is_collection():\n",
        # a skipped test (not listed: pytest's -rA summary names it by file and line only, so the
        # harness would count a listed one as failed), and a test that fails with any patch (not
        # listed): the run exits non-zero although the instance is resolved
        "test_add": (
            "def test_is_collection_mapping_types():\n"
            "    from collections import OrderedDict, UserDict\n"
            "    assert utils.is_collection(OrderedDict(a=1)) is False\n"
            "    assert utils.is_collection(UserDict(a=1)) is False\n\n\n"
            '@pytest.mark.skipif(sys.platform == "linux", reason="not on linux")\n'
            "def test_is_collection_platform_paths():\n"
            '    assert utils.is_collection(["/a", "/b"]) is True\n\n\n'
            "def test_needs_a_network():\n"
            "    import socket\n"
            '    socket.create_connection(("example.org", 80), timeout=2)\n\n\n'
        ),
        "test_header": "import sys\n",
        "spoof": "PASSED tests/test_utils.py::test_is_collection_mapping_types",
    },
]


def sh(*args: str, cwd: Path | None = None, input: str | None = None, check: bool = True) -> str:
    done = subprocess.run(args, cwd=cwd, input=input, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise SystemExit(f"{' '.join(args)}: {done.stderr.strip()[-2000:]}")
    return done.stdout


def git(repo: Path, *args: str, input: str | None = None) -> str:
    return sh("git", "-c", "user.email=harness@trajscope", "-c", "user.name=harness", *args, cwd=repo, input=input)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    if text.count(old) != 1:
        raise SystemExit(f"{path}: expected one {old!r}")
    path.write_text(text.replace(old, new))


def diff_of(repo: Path, change) -> str:
    change()
    patch = git(repo, "diff")
    git(repo, "checkout", "--", ".")
    return patch


def prepare(spec: dict, downloads: Path, work: Path) -> tuple[dict, dict[str, str]]:
    """The build context and the row, with the patches of every case."""
    name = spec["name"]
    sdists = downloads / "sdist"
    sh(
        sys.executable,
        "-m",
        "pip",
        "download",
        "-q",
        "--no-deps",
        "--no-binary",
        ":all:",
        spec["sdist"],
        "-d",
        str(sdists),
    )
    sh(
        sys.executable,
        "-m",
        "pip",
        "download",
        "-q",
        "--no-deps",
        "--only-binary",
        ":all:",
        *spec["wheels"],
        "--python-version",
        "3.11",
        "--platform",
        "manylinux2014_x86_64",
        "-d",
        str(downloads / name),
    )
    dist, version = spec["sdist"].split("==")
    archive = next(p for p in sdists.iterdir() if p.name.lower().startswith(f"{dist.lower()}-{version}"))
    ctx = work / name
    shutil.rmtree(ctx, ignore_errors=True)
    ctx.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        tar.extractall(ctx, filter="data")
    (ctx / archive.name.removesuffix(".tar.gz")).rename(ctx / "testbed")
    repo = ctx / "testbed"
    for rel, text in spec.get("extra_files", {}).items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
        (repo / rel).chmod(0o755)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"{name} {version} as released")
    src = repo / spec["src"]
    edit(src, *spec["bug"])
    git(repo, "commit", "-qam", "the bug")
    base_commit = git(repo, "rev-parse", "HEAD").strip()

    def add_test():
        test = repo / spec["test_file"]
        anchor = spec["test_anchor"]
        if spec.get("test_after"):
            edit(test, anchor, anchor + spec["test_add"])
        else:
            edit(test, anchor, spec["test_add"] + anchor)
        if spec.get("test_header"):
            test.write_text(spec["test_header"] + test.read_text())

    test_patch = diff_of(repo, add_test)
    bug_old, bug_new = spec["bug"]
    gold = diff_of(repo, lambda: edit(src, bug_new, bug_old))
    wrong = diff_of(repo, lambda: edit(src, bug_new, spec["wrong"]))
    spoof = diff_of(
        repo,
        lambda: (
            edit(src, bug_new, spec["wrong"]),
            src.write_text(src.read_text() + SPOOF_PY.format(lines=spec["spoof"])),
        ),
    )
    site = ctx / "miniconda3/envs/testbed/lib/python3.11/site-packages"
    site.mkdir(parents=True)
    for wheel in (downloads / name).glob("*.whl"):
        sh("python3", "-m", "zipfile", "-e", str(wheel), str(site))
    bin_dir = ctx / "miniconda3/bin"
    bin_dir.mkdir(parents=True)
    # conda's activation as the harness's scripts use it: `source /opt/miniconda3/bin/activate`
    # then `conda activate testbed` puts the environment first (here: its python and packages)
    src_root = "/testbed/src" if (repo / "src").is_dir() else "/testbed"
    (bin_dir / "activate").write_text(
        "export PATH=/opt/miniconda3/bin:$PATH\n"
        'conda() {\n  if [ "$1" = activate ]; then\n'
        '    export CONDA_DEFAULT_ENV="$2" PATH="/opt/miniconda3/envs/$2/bin:$PATH"\n'
        f'    export PYTHONPATH="{src_root}:/opt/miniconda3/envs/$2/lib/python3.11/site-packages"\n'
        "  fi\n}\n"
    )
    (ctx / "Dockerfile").write_text(
        f"FROM {BASE_IMAGE}\nCOPY testbed /testbed\nCOPY miniconda3 /opt/miniconda3\n"
        "RUN mkdir -p /opt/miniconda3/envs/testbed/bin"
        ' && ln -s "$(command -v python3)" /opt/miniconda3/envs/testbed/bin/python'
        ' && ln -s "$(command -v python3)" /opt/miniconda3/envs/testbed/bin/python3'
        " && printf '#!/bin/sh\\nexec python -m pytest \"$@\"\\n' > /opt/miniconda3/envs/testbed/bin/pytest"
        " && chmod +x /opt/miniconda3/envs/testbed/bin/pytest\n"
    )
    row = {
        "instance_id": f"{spec['repo'].replace('/', '__')}-{spec['number']}",
        "repo": spec["repo"],
        "version": spec["version"],
        "base_commit": base_commit,
        "environment_setup_commit": base_commit,
        "patch": gold,
        "test_patch": test_patch,
        "problem_statement": f"{spec['src']}: a bug put in for the grading-parity logs (see {name}'s tests)",
        "image": f"trajscope/harness-{name}:samples",
        "hints_text": "",
        "created_at": "2026-12-02T00:00:00Z",
    }
    return row, {"gold": gold, "wrong": wrong, "none": "", "spoof": spoof}


def run_case(image: str, row: dict, patch: str) -> str:
    """The evaluation script's output after ``patch``, as run_evaluation records it."""
    script = spec_of(row).eval_script
    cid = sh("docker", "run", "-d", "--network", "none", image, "sleep", "infinity").strip()
    try:
        if patch:
            done = subprocess.run(
                ["docker", "exec", "-i", "-w", "/testbed", cid, "git", "apply", "-v", "-"],
                input=patch,
                capture_output=True,
                text=True,
            )
            if done.returncode:
                raise SystemExit(f"{row['instance_id']}: the patch did not apply: {done.stderr}")
        subprocess.run(["docker", "exec", "-i", cid, "sh", "-c", "cat > /eval.sh"], input=script, text=True, check=True)
        # one stream, as the harness records it (its `set -x` trace, markers included, is on stderr)
        done = subprocess.run(
            ["docker", "exec", cid, "/bin/bash", "-c", "/bin/bash /eval.sh 2>&1"],
            capture_output=True,
            text=True,
            timeout=900,
        )
        return done.stdout
    finally:
        sh("docker", "rm", "-f", cid, check=False)


def spec_of(row: dict):
    """The harness's TestSpec (``make_test_spec``) with its environment script left out: making
    that one downloads requirement files from GitHub, which is not reachable here."""
    from unittest import mock

    from swebench.harness.test_spec.test_spec import make_test_spec

    with (
        mock.patch("swebench.harness.test_spec.python.get_requirements", return_value=""),
        mock.patch("swebench.harness.test_spec.python.get_environment_yml", return_value=""),
    ):
        return make_test_spec(row)


def statuses(row: dict, log: str) -> dict[str, str]:
    from swebench.harness.grading import get_logs_eval

    with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as fh:
        fh.write(log)
    try:
        status, ok = get_logs_eval(spec_of(row), fh.name)
    finally:
        Path(fh.name).unlink()
    if not ok:
        raise SystemExit(f"{row['instance_id']}: the harness read no test output:\n{log[-3000:]}")
    return status


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "logs").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="harness-logs-"))
    rows, cases = [], []
    try:
        for spec in REPOS:
            row, patches = prepare(spec, work / "downloads", work)
            print(f"building {row['image']}", flush=True)
            context = work / f"{spec['name']}.tar"
            with tarfile.open(context, "w", format=tarfile.GNU_FORMAT) as tar:
                for child in sorted((work / spec["name"]).iterdir()):
                    tar.add(child, arcname=child.name)
            with open(context, "rb") as fh:
                subprocess.run(
                    ["docker", "build", "-q", "-t", row["image"], "-"], stdin=fh, check=True, stdout=subprocess.DEVNULL
                )
            # FAIL_TO_PASS/PASS_TO_PASS as SWE-bench derives them, from the two reference runs
            row["FAIL_TO_PASS"], row["PASS_TO_PASS"] = "[]", "[]"
            logs = {"none": run_case(row["image"], row, ""), "gold": run_case(row["image"], row, patches["gold"])}
            before, after = statuses(row, logs["none"]), statuses(row, logs["gold"])
            passed = ("PASSED", "XFAIL")
            f2p = sorted(t for t, s in after.items() if s in passed and before.get(t) not in passed)
            p2p = sorted(t for t, s in after.items() if s in passed and before.get(t) in passed)
            row["FAIL_TO_PASS"] = json.dumps(f2p)
            row["PASS_TO_PASS"] = json.dumps(p2p + spec.get("p2p_extra", []))
            for case in ("wrong", "spoof"):
                logs[case] = run_case(row["image"], row, patches[case])
            for case, log in logs.items():
                name = f"{row['instance_id']}.{case}.log"
                (out / "logs" / name).write_text(log)
                cases.append(
                    {
                        "instance_id": row["instance_id"],
                        "case": case,
                        "model_patch": patches[case],
                        "log": f"logs/{name}",
                    }
                )
            print(f"{row['instance_id']}: {len(f2p)} FAIL_TO_PASS, {len(p2p)} PASS_TO_PASS", flush=True)
            rows.append(row)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    (out / "instances.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (out / "cases.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python scripts/samples/harness_logs.py OUT_DIR")
    main(Path(sys.argv[1]))
