"""Tasks: loaders, test-log parsing, and verification of the bundled demo tasks."""

from __future__ import annotations

import json

import pytest

from trajscope.engine.tasks import TaskError, load_swebench, load_task, load_task_dir
from trajscope.engine.verification import parse_test_log, verify
from tests.conftest import DEMO_TASKS, docker_or_skip


def test_at_least_eight_demo_tasks_shaped_like_projects():
    assert len(DEMO_TASKS) >= 8
    for path in DEMO_TASKS:
        task = load_task_dir(path)
        code = [p for p in (path / "repo").rglob("*") if p.is_file()]
        assert 3 <= len(code) <= 15, path.name
        assert task.FAIL_TO_PASS and task.PASS_TO_PASS and len(task.problem_statement) > 200
        assert task.gold_patch and (path / "wrong.patch").is_file()
        touched = [line for line in task.test_patch.splitlines() if line.startswith("+++ ")]
        assert touched and all("/tests/" in line for line in touched)  # hidden tests only


def _check(task, sandbox: str) -> None:
    base = verify(task, "", sandbox=sandbox)
    assert base.patch_applied and not base.error
    assert not base.resolved and not any(base.fail_to_pass.values())
    assert all(base.pass_to_pass.values()), "visible tests pass at the base state"
    gold = verify(task, task.gold_patch, sandbox=sandbox)
    assert gold.resolved, gold.to_json()
    assert gold.verified()["failed"] == [] and gold.verified()["resolved"]
    wrong = verify(task, (task.path / "wrong.patch").read_text(), sandbox=sandbox)
    assert wrong.patch_applied and not wrong.resolved


@pytest.mark.parametrize("path", DEMO_TASKS, ids=lambda p: p.name)
@pytest.mark.slow
def test_demo_task_verifies_locally(path):
    _check(load_task_dir(path), "local")


@pytest.mark.parametrize("path", DEMO_TASKS, ids=lambda p: p.name)
@pytest.mark.docker
@pytest.mark.slow
def test_demo_task_verifies_in_docker(path):
    docker_or_skip()
    _check(load_task_dir(path), "docker")


def test_patch_that_does_not_apply():
    task = load_task_dir(DEMO_TASKS[0])
    bad = "--- a/nope.py\n+++ b/nope.py\n@@ -1,1 +1,1 @@\n-old line\n+new line\n"
    result = verify(task, bad)
    assert not result.patch_applied and not result.resolved
    assert result.error.startswith("the patch does not apply")
    assert "\n" not in result.error


def test_parse_test_log():
    log = (
        "PASSED tests/a.py::test_x\nFAILED tests/a.py::test_y - AssertionError: 1 != 2\n"
        "ERROR tests/b.py::test_z\nPASSED tests/a.py::test_p[1m 30s-90]\nnoise line\n"
    )
    assert parse_test_log(log) == {
        "tests/a.py::test_x": "PASSED",
        "tests/a.py::test_y": "FAILED",
        "tests/b.py::test_z": "ERROR",
        "tests/a.py::test_p[1m 30s-90]": "PASSED",
    }


def _row(**extra) -> dict:
    row = {
        "instance_id": "owner__proj-1",
        "problem_statement": "It breaks.",
        "repo": "owner/proj",
        "base_commit": "abc123",
        "test_patch": "",
        "FAIL_TO_PASS": json.dumps(["t::a"]),
        "PASS_TO_PASS": "[]",
    }
    return row | extra


def test_swebench_json_and_jsonl(tmp_path):
    rows = [_row(), _row(instance_id="owner__proj-2", FAIL_TO_PASS=["t::b"])]
    (tmp_path / "a.json").write_text(json.dumps(rows))
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    for name in ("a.json", "a.jsonl"):
        tasks = load_swebench(tmp_path / name)
        assert [t.instance_id for t in tasks] == ["owner__proj-1", "owner__proj-2"]
        assert tasks[0].FAIL_TO_PASS == ["t::a"] and tasks[1].FAIL_TO_PASS == ["t::b"]
        assert tasks[0].workdir == "/testbed" and tasks[0].image.startswith(
            "swebench/sweb.eval.x86_64.owner_1776_proj-1"
        )
    assert load_task(tmp_path / "a.jsonl", "owner__proj-2").instance_id == "owner__proj-2"
    with pytest.raises(TaskError, match="name one with --instance"):
        load_task(tmp_path / "a.json")
    with pytest.raises(TaskError, match="no instance nope"):
        load_task(tmp_path / "a.json", "nope")
    with pytest.raises(TaskError, match="only in a Docker image"):
        load_task(tmp_path / "a.json", "owner__proj-1").open_sandbox("local")


def test_task_directory_errors(tmp_path):
    with pytest.raises(TaskError, match="no task.json"):
        load_task_dir(tmp_path)
    (tmp_path / "task.json").write_text("{not json")
    with pytest.raises(TaskError, match="not valid JSON"):
        load_task_dir(tmp_path)
    (tmp_path / "task.json").write_text(json.dumps({"instance_id": "x", "problem_statement": "y"}))
    (tmp_path / "repo").mkdir()
    with pytest.raises(TaskError, match="lacks FAIL_TO_PASS, PASS_TO_PASS, test_patch"):
        load_task_dir(tmp_path)
    (tmp_path / "task.json").write_text(json.dumps(_row(FAIL_TO_PASS="not a list")))
    with pytest.raises(TaskError, match="FAIL_TO_PASS is not a list"):
        load_task_dir(tmp_path)
    (tmp_path / "repo").rmdir()
    (tmp_path / "task.json").write_text(json.dumps(_row()))
    with pytest.raises(TaskError, match="no repo/ directory"):
        load_task_dir(tmp_path)
    with pytest.raises(TaskError, match="does not exist"):
        load_task(tmp_path / "missing.json")


def _with_command(tmp_path, command: str, name: str = "semver-prerelease"):
    import shutil

    src = next(p for p in DEMO_TASKS if p.name == name)
    dst = tmp_path / f"{name}-{abs(hash(command))}"
    shutil.copytree(src, dst)
    spec = json.loads((dst / "task.json").read_text())
    spec["test_command"] = command
    (dst / "task.json").write_text(json.dumps(spec))
    return load_task_dir(dst)


@pytest.mark.parametrize(
    "command",
    [
        "python3 -m pytest -q",
        "python3 -m pytest",
        "python3 -m pytest -x",
        "python3 -m pytest tests/test_version.py tests/test_prerelease_numeric.py",
        "cd tests && PYTHONPATH=.. python3 -m pytest -q",
        "python3 -m pytest -q -k 'not nothing_matches' tests/",
    ],
)
@pytest.mark.slow
def test_verification_does_not_depend_on_pytest_flags(tmp_path, command):
    task = _with_command(tmp_path, command)
    gold = verify(task, task.gold_patch)
    assert gold.resolved and gold.verdict == "resolved", gold.to_json()
    base = verify(task, "")
    assert base.verdict == "unresolved" and not any(base.fail_to_pass.values())
    if "-x" not in command:  # -x stops at the first failure: the rest did not run
        assert all(base.pass_to_pass.values())


def test_a_unittest_task_verifies(tmp_path):
    repo = tmp_path / "task" / "repo"
    (repo / "tests").mkdir(parents=True)
    (repo / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (repo / "tests" / "__init__.py").write_text("")
    (repo / "tests" / "test_calc.py").write_text(
        "import unittest\nfrom calc import add\n\n\nclass TestAdd(unittest.TestCase):\n"
        "    def test_add(self):\n        self.assertEqual(add(2, 2), 4)\n\n"
        '    def test_zero(self):\n        """Adding zero."""\n        self.assertEqual(add(5, 0), 5)\n'
    )
    (tmp_path / "task" / "task.json").write_text(
        json.dumps(
            {
                "instance_id": "demo__calc-1",
                "problem_statement": "add subtracts",
                "FAIL_TO_PASS": ["test_add (tests.test_calc.TestAdd)"],
                "PASS_TO_PASS": ["test_zero (tests.test_calc.TestAdd)"],
                "test_command": "python3 -m unittest -v",
                "test_patch": "",
            }
        )
    )
    task = load_task_dir(tmp_path / "task")
    base = verify(task, "")
    assert base.verdict == "unresolved" and base.pass_to_pass == {"test_zero (tests.test_calc.TestAdd)": True}
    fix = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n"
    assert verify(task, fix).verdict == "resolved"


@pytest.mark.parametrize("command", ["true", "echo all good", "python3 -m unittest"])
def test_no_per_test_result_is_a_verification_error_not_unresolved(tmp_path, command):
    task = _with_command(tmp_path, command)
    result = verify(task, task.gold_patch)
    assert result.verdict == "error" and not result.resolved
    assert "no per-test result" in result.error and "\n" not in result.error
    verified = result.verified()
    assert verified["verdict"] == "error" and not verified["passed"] and not verified["failed"]
    from trajscope.engine.tree import Node

    node = Node("n1", "root", 1, "submit", verified=verified | {"error": result.error})
    assert node.resolved is None and node.verdict == "error"
