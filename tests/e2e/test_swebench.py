"""SWE-bench instances verified with the official harness, in an image laid out like a SWE-bench
one: the code at /testbed under git, a ``testbed`` environment under /opt/miniconda3 whose
activation is what makes the project importable (built here from the base image, no network)."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from tests.conftest import docker_or_skip
from tests.support import trajscope

pytestmark = [pytest.mark.docker, pytest.mark.subprocess]

IMAGE = "trajscope/swebench-like:test"
INSTANCE = "pytest-dev__pytest-90001"  # a repository and version the harness's spec tables know

ACTIVATE = """export PATH=/opt/miniconda3/bin:$PATH
conda() {
  if [ "$1" = activate ]; then
    export CONDA_DEFAULT_ENV="$2" PATH="/opt/miniconda3/envs/$2/bin:$PATH"
    export PYTHONPATH="/testbed/src${PYTHONPATH:+:$PYTHONPATH}"
  fi
}
"""
CALC = "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n"
TEST_PATCH = """diff --git a/testing/test_calc.py b/testing/test_calc.py
new file mode 100644
--- /dev/null
+++ b/testing/test_calc.py
@@ -0,0 +1,9 @@
+import calc
+
+
+def test_add():
+    assert calc.add(2, 3) == 5
+
+
+def test_sub():
+    assert calc.sub(5, 3) == 2
"""
GOLD = """diff --git a/src/calc/__init__.py b/src/calc/__init__.py
--- a/src/calc/__init__.py
+++ b/src/calc/__init__.py
@@ -1,5 +1,5 @@
 def add(a, b):
-    return a - b
+    return a + b
 
 
 def sub(a, b):
"""
WRONG = GOLD.replace("+    return a + b", "+    return abs(a - b)")
SPOOF = GOLD.replace("+    return a + b", "+    print('PASSED testing/test_calc.py::test_add')\n+    return a - b")
SPOOF = SPOOF.replace("@@ -1,5 +1,5 @@", "@@ -1,5 +1,6 @@")


def _tar(files: dict[str, str], modes: dict[str, int] | None = None) -> bytes:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for name, text in files.items():
            raw = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(raw), (modes or {}).get(name, 0o644)
            tar.addfile(info, io.BytesIO(raw))
    return data.getvalue()


@pytest.fixture(scope="module")
def image() -> str:
    docker_or_skip()
    import docker

    client = docker.from_env()
    dockerfile = """FROM trajscope/base:1
COPY testbed /testbed
COPY miniconda3 /opt/miniconda3
RUN ln -s "$(command -v python3)" /opt/miniconda3/envs/testbed/bin/python \\
 && cd /testbed && git init -q && git add -A && git -c user.email=t@t -c user.name=t commit -qm base
"""
    context = _tar(
        {
            "Dockerfile": dockerfile,
            "testbed/src/calc/__init__.py": CALC,
            "testbed/testing/__init__.py": "",
            "miniconda3/bin/activate": ACTIVATE,
            "miniconda3/envs/testbed/bin/pytest": '#!/bin/sh\nexec python3 -m pytest "$@"\n',
        },
        {"miniconda3/envs/testbed/bin/pytest": 0o755},
    )
    client.images.build(fileobj=io.BytesIO(context), custom_context=True, tag=IMAGE, rm=True, network_mode="none")
    yield IMAGE


@pytest.fixture(scope="module")
def dataset(image, tmp_path_factory):
    import docker

    head = (
        docker.from_env()
        .containers.run(image, ["git", "-C", "/testbed", "rev-parse", "HEAD"], remove=True, network_mode="none")
        .decode()
        .strip()
    )
    row = {
        "instance_id": INSTANCE,
        "repo": "pytest-dev/pytest",
        "version": "4.4",
        "base_commit": head,
        "environment_setup_commit": head,
        "problem_statement": "calc.add subtracts.",
        "patch": GOLD,
        "test_patch": TEST_PATCH,
        "FAIL_TO_PASS": json.dumps(["testing/test_calc.py::test_add"]),
        "PASS_TO_PASS": json.dumps(["testing/test_calc.py::test_sub"]),
        "image": image,
    }
    path = tmp_path_factory.mktemp("swebench") / "instances.jsonl"
    path.write_text(json.dumps(row) + "\n")
    return path


def test_the_gold_patch_resolves_through_the_harness(dataset):
    result = trajscope("verify", dataset, "--instance", INSTANCE, "--gold", "--sandbox", "docker", "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 0, (result.stderr, report)
    assert report["resolved"] is True and report["grader"] == "swebench harness"
    assert report["FAIL_TO_PASS"]["success"] == ["testing/test_calc.py::test_add"]
    assert report["PASS_TO_PASS"]["success"] == ["testing/test_calc.py::test_sub"]


@pytest.mark.parametrize("patch", [WRONG, SPOOF], ids=["wrong", "spoofed-PASSED-line"])
def test_a_wrong_or_spoofing_patch_does_not_resolve(dataset, tmp_path, patch):
    fix = tmp_path / "fix.diff"
    fix.write_text(patch)
    result = trajscope("verify", dataset, "--instance", INSTANCE, "--patch", fix, "--sandbox", "docker", "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 1 and report["resolved"] is False and report["patch_applied"] is True
    assert report["FAIL_TO_PASS"]["failure"] == ["testing/test_calc.py::test_add"], report
    assert report["grader"] == "swebench harness"


def test_commands_run_in_the_activated_testbed_and_would_not_import_without_it(dataset):
    from trajscope.engine.tasks import load_task

    task = load_task(dataset, INSTANCE)
    with task.open_sandbox("docker") as box:
        active = box.run("python -c 'import calc, os; print(calc.__file__, os.environ[\"CONDA_DEFAULT_ENV\"])'")
        assert active.exit_code == 0 and "/testbed/src/calc" in active.output and "testbed" in active.output
    with task.open_sandbox("docker", setup="") as bare:
        plain = bare.run("python3 -c 'import calc'")
        assert plain.exit_code != 0 and "No module named 'calc'" in plain.output


def test_a_row_the_harness_does_not_know_says_so(dataset, tmp_path):
    row = json.loads(dataset.read_text())
    row["version"] = "0.0.1"
    path = tmp_path / "unknown.json"
    path.write_text(json.dumps([row]))
    result = trajscope("verify", path, "--instance", INSTANCE, "--gold", "--sandbox", "docker", "--json")
    report = json.loads(result.stdout)
    assert report["verdict"] == "error" and report["resolved"] is False
    assert "no test spec for pytest-dev/pytest version 0.0.1" in report["error"]


def test_bad_input_is_one_sentence_each(dataset, tmp_path):
    row = json.loads(dataset.read_text())
    missing = trajscope("verify", dataset, "--instance", "nope__nope-1", "--gold", "--sandbox", "docker")
    assert missing.returncode == 2 and "has no instance nope__nope-1" in missing.stderr
    row.pop("image")
    row["instance_id"] = "astropy__astropy-12907"
    path = tmp_path / "noimage.json"
    path.write_text(json.dumps(row))
    result = trajscope("verify", path, "--gold", "--sandbox", "docker")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    stale = tmp_path / "stale.diff"
    stale.write_text(GOLD.replace("-    return a - b", "-    return a * b"))
    bad = trajscope("verify", dataset, "--instance", INSTANCE, "--patch", stale, "--sandbox", "docker", "--json")
    report = json.loads(bad.stdout)
    assert bad.returncode == 1 and report["patch_applied"] is False and report["resolved"] is False
    assert report["error"].startswith("the patch does not apply: ") and "\n" not in report["error"]
    assert "docker pull swebench/sweb.eval.x86_64.astropy_1776_astropy-12907:latest" in result.stderr
    assert "--instance_ids astropy__astropy-12907" in result.stderr


def test_a_run_on_the_row_is_verified_by_the_harness(dataset, tmp_path):
    from trajscope.engine.events import read_events
    from tests.fake_llm import FakeLLM, Scripted, reply

    out = tmp_path / "run.jsonl"
    fix = reply(
        "str_replace",
        "add adds",
        path="src/calc/__init__.py",
        old="def add(a, b):\n    return a - b",
        new="def add(a, b):\n    return a + b",
    )
    with FakeLLM(
        Scripted(
            [reply("bash", "look", command="python -c 'import calc; print(calc.add(2, 3))'"), fix, reply("submit")]
        )
    ) as server:
        proc = trajscope(
            "run",
            dataset,
            "--instance",
            INSTANCE,
            "--model",
            "openai/fake",
            "--api-base",
            server.url,
            "--sandbox",
            "docker",
            "--headless",
            "--out",
            out,
            timeout=300,
        )
    result = json.loads(proc.stdout)
    assert proc.returncode == 0 and result["resolved"] is True, (proc.stderr, result)
    events = read_events(out)
    first = next(e for e in events if e["type"] == "node_executed")
    assert first["observation"].strip().endswith("-1")  # the agent's python sees calc: testbed is active
    submitted = next(e for e in events if e["type"] == "submitted")
    assert submitted["verified"]["grader"] == "swebench harness" and submitted["verified"]["resolved"] is True


def test_evaluate_grades_predictions_as_the_harness_reports_them(dataset, tmp_path):
    from trajscope.engine.formats.collection import find_verdicts

    row = json.loads(dataset.read_text())
    rows = [dict(row, instance_id=f"{INSTANCE}{suffix}") for suffix in ("", "-b", "-c")]
    data = tmp_path / "instances.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    preds = tmp_path / "preds.jsonl"
    preds.write_text(
        "".join(
            json.dumps({"instance_id": iid, "model_name_or_path": "org/model", "model_patch": patch}) + "\n"
            for iid, patch in (
                (INSTANCE, GOLD),
                (f"{INSTANCE}-b", WRONG),
                (f"{INSTANCE}-c", ""),
                ("nope__nope-1", GOLD),
            )
        )
    )
    out = tmp_path / "evaluation"
    result = trajscope(
        "evaluate", preds, "--dataset", data, "--out", out, "--run-id", "r1", "--workers", "2", timeout=600
    )
    assert result.returncode == 3, result.stderr  # one prediction is not in the dataset: not graded
    summary = json.loads((out / "org__model.r1.json").read_text())
    assert summary["resolved_ids"] == [INSTANCE] and summary["unresolved_ids"] == [f"{INSTANCE}-b"]
    assert summary["empty_patch_ids"] == [f"{INSTANCE}-c"] and summary["error_ids"] == ["nope__nope-1"]
    report = json.loads((out / "logs/run_evaluation/r1/org__model" / INSTANCE / "report.json").read_text())
    assert report[INSTANCE]["resolved"] is True and report[INSTANCE]["grader"] == "swebench harness"
    assert report[INSTANCE]["tests_status"]["FAIL_TO_PASS"]["success"] == ["testing/test_calc.py::test_add"]
    assert "resolved 1 of 4" in result.stderr
    # the runs screen and `stats` read these reports as the harness's own
    assert find_verdicts(out) == {INSTANCE: True, f"{INSTANCE}-b": False, f"{INSTANCE}-c": False, "nope__nope-1": False}


def test_a_search_on_the_row_submits_and_is_verified_by_the_harness(dataset, tmp_path):
    from trajscope.engine.events import read_events
    from trajscope.engine.tree import Tree
    from tests.fake_llm import FakeLLM, Scripted, reply

    out = tmp_path / "search.jsonl"
    fix = reply(
        "str_replace",
        "add adds",
        path="src/calc/__init__.py",
        old="def add(a, b):\n    return a - b",
        new="def add(a, b):\n    return a + b",
    )
    with FakeLLM(Scripted([fix, reply("submit")] * 4)) as server:
        proc = trajscope(
            "search",
            dataset,
            "--instance",
            INSTANCE,
            "--model",
            "openai/fake",
            "--api-base",
            server.url,
            "--sandbox",
            "docker",
            "--strategy",
            "sample",
            "--samples",
            "2",
            "--prm",
            "heuristic",
            "--headless",
            "--out",
            out,
            timeout=400,
        )
    result = json.loads(proc.stdout)
    assert proc.returncode == 0 and result["resolved"] is True, (proc.stderr, result)
    tree = Tree.fold(read_events(out))
    verified = [n.verified for n in tree.nodes.values() if n.verified]
    assert verified and all(v["grader"] == "swebench harness" and v["resolved"] for v in verified)


def test_a_5x_task_repository_is_verified_with_its_own_eval_script(dataset, tmp_path):
    """swebench 5.x's layout (tasks/<id>/ with task.yaml, tests.json, eval.sh, ...), under a
    repository name the pinned harness's spec tables do not know: its own script and parser."""
    from trajscope.engine import swebench

    row = json.loads(dataset.read_text())
    task = tmp_path / "repo" / "tasks" / "acme__calc-1"
    task.mkdir(parents=True)
    meta = {
        "instance_id": "acme__calc-1",
        "repo": "acme/calc",
        "version": "1.0",
        "base_commit": row["base_commit"],
        "image": row["image"],
        "log_parser": "parse_log_pytest",
        "eval_type": "pass_and_fail",
    }
    (task / "task.yaml").write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in meta.items()))
    (task / "tests.json").write_text(json.dumps({k: json.loads(row[k]) for k in ("FAIL_TO_PASS", "PASS_TO_PASS")}))
    (task / "eval.sh").write_text(swebench.eval_script(row))
    for name, text in (("gold.patch", GOLD), ("test.patch", TEST_PATCH), ("problem_statement.md", "add subtracts")):
        (task / name).write_text(text)
    gold = trajscope(
        "verify", tmp_path / "repo", "--instance", "acme__calc-1", "--gold", "--sandbox", "docker", "--json"
    )
    report = json.loads(gold.stdout)
    assert gold.returncode == 0 and report["resolved"] is True and report["grader"] == "swebench harness", report
    fix = tmp_path / "wrong.diff"
    fix.write_text(WRONG)
    wrong = trajscope("verify", task, "--patch", fix, "--sandbox", "docker", "--json")
    assert wrong.returncode == 1 and json.loads(wrong.stdout)["resolved"] is False
