"""The agent's own checks of its candidate patches: the evidence ``--select tests`` ranks by and
DARS's stopping rule reads, none of it from the hidden tests (docs/architecture.md section 5).

A real evaluation gives an agent no grader, so what it may use is what it can run itself
(Agentless's regression and reproduction filtering, CodeT's clustering by behaviour):

- the repository's *visible* tests (the task's test command on the base code, without the
  hidden tests' patch): a test that passed on the base and does not on a candidate is a
  regression;
- *reproduction tests* the model writes from the issue, several samples, kept only when they
  fail on the base state; every candidate runs every kept test;
- the agent's own *reproduction commands* (what it ran before its first edit), re-run on each
  candidate: candidates whose outputs agree behave alike.

Each distinct candidate (by its normalised patch) is checked once, in a fresh fork of its
state, and the result is cached by that patch. Nothing read back from a sandbox steers the
host: outputs are only counted, hashed or cut to a bounded excerpt. The results are events
(``checks_prepared``, ``candidate_checked``) and so part of the tree, the app and the log.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time

from trajscope.engine.sandbox.base import SandboxError
from trajscope.engine.search.select import kept_tests, patch_key
from trajscope.engine.tree import Tree

REPRO_PROMPT = """Write one pytest test file that reproduces this issue in the repository {repo}.

<issue>
{issue}
</issue>

The test must fail on the code as it is now, for the reason the issue gives, and pass once the
issue is fixed. Import the project's code as its own users would; do not edit the project.
Answer with the file's content in one fenced ```python block and nothing else."""

REPRO_FILE = "test_trajscope_repro_{id}.py"
"""Where a reproduction test is written in a sandbox (the repository root, beside the code it imports)."""

MAX_SOURCE = 8000  # characters of a generated test kept (and recorded)
MAX_EXCERPT = 300  # characters of an output recorded
MAX_NAMES = 20  # regression names recorded per candidate
MAX_COMMANDS = 4  # reproduction commands re-run per candidate
_CODE = re.compile(r"```(?:python|py)?[^\n]*\n(.*?)```", re.DOTALL)
# what changes from run to run without the behaviour changing: timings, addresses
_NOISE = re.compile(r"0x[0-9a-fA-F]+|\d+\.\d+\s*s\b|\d+(\.\d+)?\s*(seconds|ms)\b")


def extract_test(answer: str) -> str:
    """The test file in a model's answer: its first fenced block, else the whole text; bounded."""
    found = _CODE.search(answer or "")
    return (found.group(1) if found else answer or "").strip()[:MAX_SOURCE]


def behaviour_digest(exit_code: int, output: str) -> str:
    """What a command did, as a short digest that ignores timings and addresses."""
    return hashlib.sha256(f"{exit_code}\n{_NOISE.sub('#', output)}".encode()).hexdigest()[:12]


def repro_commands(tree: Tree, node_id: str) -> list[str]:
    """The shell commands the agent ran on the path to ``node_id`` before its first edit."""
    commands = []
    for node in tree.path(node_id):
        if node.kind in ("edit", "append", "create"):
            break
        action = node.action or {}
        if action.get("tool") == "bash" and node.kind == "run":
            command = str((action.get("args") or {}).get("command") or "")
            if command and command not in commands:
                commands.append(command)
    return commands[-MAX_COMMANDS:]


def regressions(base_passed: set[str], visible: dict[str, bool | None], timed_out: bool) -> list[str]:
    """The visible tests that passed on the base state and do not on a candidate: failed, or
    missing from its run (they no longer import) unless the run was cut short; a skip is neither."""
    return sorted(name for name in base_passed if visible.get(name) is False or (name not in visible and not timed_out))


def _lines_of(output: str, path: str) -> str:
    """The lines of a pytest run's output that name ``path`` (what one file did), else all of it."""
    mine = [line for line in output.splitlines() if path in line]
    return "\n".join(mine) if mine else output


def _excerpt(text: str) -> str:
    return text if len(text) <= MAX_EXCERPT else text[: MAX_EXCERPT // 2] + " … " + text[-MAX_EXCERPT // 2 :]


class Checker:
    """One search's checks: the base state's facts (prepared once), then each candidate's."""

    def __init__(self, session) -> None:
        self.session = session
        self._lock = threading.Lock()
        self._base_passed: set[str] | None = None  # visible tests that pass on the base state

    # -- the base state: visible tests, and the reproduction tests worth keeping ----------
    def prepare(self, box) -> dict:
        """The base state's facts, from the log when this search already recorded them."""
        tree = self.session.tree
        with self._lock:
            if tree.checks and self._base_passed is not None:
                return tree.checks
            started = time.monotonic()
            base = box.fork(box.base)
            try:
                visible, _ = self._visible(base)
                self._base_passed = {name for name, ok in visible.items() if ok is True}
                if tree.checks:  # a resumed search: its tests were written and kept already
                    return tree.checks
                tests, tokens_in, tokens_out = self._write_tests(base)
            finally:
                base.close()
            self.session.emit(
                "checks_prepared",
                visible={
                    "command": self.session.task.test_command,
                    "passed": len(self._base_passed),
                    "failed": sum(1 for ok in visible.values() if ok is False),
                },
                tests=tests,
                tokens_in=tokens_in,
                tokens_out=tokens_out,
                duration_s=round(time.monotonic() - started, 3),
            )
            return self.session.tree.checks

    def _visible(self, box) -> tuple[dict[str, bool | None], bool]:
        """Visible test -> passed, from the task's test command on the state ``box`` holds, and
        whether the run timed out (then the tests it did not reach say nothing)."""
        from trajscope.engine.verification import JUNIT_FILE, parse_junit, parse_test_log, with_test_reports

        run = box.run(with_test_reports(self.session.task.test_command, box.repo), timeout=self.session.config.timeout)
        outcomes = parse_test_log(run.output)
        try:
            outcomes |= parse_junit(box.read(JUNIT_FILE))
        except SandboxError:  # not pytest, or it never wrote its report
            pass
        # skipped: on neither side, as the harness counts it (an environment's skip is no regression)
        verdicts = {n: None if o == "SKIPPED" else o in ("PASSED", "XFAIL") for n, o in outcomes.items()}
        return verdicts, run.timed_out

    def _write_tests(self, base) -> tuple[list[dict], int, int]:
        """Ask the policy for reproduction tests; each is run on the base state and kept only
        when it fails there (a test that passes on the bug reproduces nothing)."""
        policy, n = self.session.policy, self.session.config.repro_tests
        if n < 1 or not hasattr(policy, "ask_usage"):
            return [], 0, 0
        task = self.session.task
        prompt = REPRO_PROMPT.format(repo=task.repo or "the project", issue=task.problem_statement[:4000])
        tests, tokens_in, tokens_out = [], 0, 0
        for i in range(n):
            test_id = f"t{i + 1}"
            try:
                answer, used_in, used_out = policy.ask_usage(prompt, temperature=0.8)
            except Exception as exc:  # noqa: BLE001 - a failed sample is no test, not a failed search
                tests.append({"id": test_id, "kept": False, "reason": f"the model gave no test: {_excerpt(str(exc))}"})
                continue
            tokens_in, tokens_out = tokens_in + used_in, tokens_out + used_out
            source = extract_test(answer)
            if "def test" not in source:
                tests.append({"id": test_id, "kept": False, "reason": "the answer holds no test function"})
                continue
            tests.append({"id": test_id, "source": source})
        written = [t for t in tests if "source" in t]
        outcomes, hung, outputs = self._run_tests(base, written)
        timeout = self.session.config.timeout
        for test in written:
            outcome = outcomes.get(test["id"])
            test["kept"] = outcome is False
            if test["id"] in hung:
                test["reason"] = f"it timed out after {timeout:g} s on the base state (a test that hangs says nothing)"
            else:
                test["reason"] = {
                    False: "fails on the base state",
                    True: "passes on the base state (reproduces nothing)",
                    None: "it does not run (no test, or an error before any assertion)",
                }[outcome]
            test["base_output"] = _excerpt(outputs.get(test["id"], ""))
        return tests, tokens_in, tokens_out

    def _run_tests(self, box, tests: list[dict]) -> tuple[dict[str, bool], set[str], dict[str, str]]:
        """Test id -> True where every test function of its file passed, False where one failed;
        absent where it did not run (a file that does not import, a timeout): such a test says
        nothing of a state. Also the ids that timed out, and each test's lines of output.

        One pytest run for them all (a file that does not import fails alone); when that run
        times out, each test runs again alone, so one that hangs costs only its own verdict. At
        most (1 + len(tests)) runs of the command timeout each."""
        if not tests:
            return {}, set(), {}
        paths = {t["id"]: REPRO_FILE.format(id=t["id"]) for t in tests}
        for t in tests:
            box.write(paths[t["id"]], str(t.get("source") or "") + "\n")
        result, hung, outputs = self._pytest(box, paths)
        if hung and len(paths) > 1:  # the run was cut short: it says nothing of any test
            result, hung, outputs = {}, set(), {}
            for test_id, path in paths.items():
                alone, late, output = self._pytest(box, {test_id: path})
                result |= alone
                hung |= late
                outputs |= output
        return result, hung, outputs

    def _pytest(self, box, paths: dict[str, str]) -> tuple[dict[str, bool], set[str], dict[str, str]]:
        """One pytest run of the test files ``paths`` (id -> file): verdicts, the ids it timed out on, outputs."""
        from trajscope.engine.verification import parse_test_log

        run = box.run(
            "python3 -m pytest -rA -p no:cacheprovider --continue-on-collection-errors " + " ".join(paths.values()),
            timeout=self.session.config.timeout,
        )
        outputs = {test_id: _lines_of(run.output, path) for test_id, path in paths.items()}
        if run.timed_out:
            return {}, set(paths), outputs
        outcomes = parse_test_log(run.output)
        result: dict[str, bool] = {}
        for test_id, path in paths.items():
            mine = [o for name, o in outcomes.items() if name == path or name.startswith(path + "::")]
            if mine and all(o in ("PASSED", "XFAIL") for o in mine):
                result[test_id] = True
            elif "FAILED" in mine:
                result[test_id] = False
        return result, set(), outputs

    # -- one candidate ------------------------------------------------------------------
    def check(self, box, node_id: str, patch: str) -> None:
        """Check the candidate at ``node_id`` (``box`` holds its state): once per normalised patch."""
        key = patch_key(patch)
        prepared = self.prepare(box)
        tree = self.session.tree
        done = tree.checked.get(key)
        if done is not None:
            self.session.emit("candidate_checked", id=node_id, key=key, cached=True, **_facts(done))
            return
        started = time.monotonic()
        fork = box.fork(self.session.state_of(node_id))
        try:
            broken = regressions(self._base_passed or set(), *self._visible(fork))
            kept = [t for t in prepared.get("tests") or [] if t.get("kept")]
            # a kept test that did not pass here (failed, or hung: timed out) fails this candidate
            outcomes, _, _ = self._run_tests(fork, kept)
            repro = {t["id"]: outcomes.get(t["id"]) is True for t in kept}
            commands = []
            with self.session.recorder.reading() as folded:
                wanted = self._commands(folded, node_id)
            for command in wanted:
                run = fork.run(command, timeout=self.session.config.timeout)
                commands.append(
                    {
                        "command": command[:200],
                        "exit_code": -1 if run.timed_out else run.exit_code,
                        "digest": behaviour_digest(run.exit_code, run.output),
                    }
                )
        finally:
            fork.close()
        self.session.emit(
            "candidate_checked",
            id=node_id,
            key=key,
            cached=False,
            repro=repro,
            regressions=broken[:MAX_NAMES],
            n_regressions=len(broken),
            commands=commands,
            duration_s=round(time.monotonic() - started, 3),
        )

    def _commands(self, tree: Tree, node_id: str) -> list[str]:
        """The reproduction commands every candidate re-runs: those of the candidates so far and
        this one's, at most MAX_COMMANDS (so candidates can be compared on the same commands)."""
        seen: list[str] = []
        for facts in tree.checked.values():
            seen += [str(c.get("command")) for c in facts.get("commands") or [] if c.get("command") not in seen]
        for command in repro_commands(tree, node_id):
            if command[:200] not in seen:
                seen.append(command)
        return seen[:MAX_COMMANDS]


def _facts(checked: dict) -> dict:
    return {k: checked[k] for k in ("repro", "regressions", "n_regressions", "commands") if k in checked}


_NEW = threading.Lock()


def check_candidate(session, box, node_id: str, patch: str) -> None:
    """Run the checks on a submitted candidate when the search asked for them (``checks``)."""
    if not getattr(session.config, "checks", False) or not (patch or "").strip():
        return
    with _NEW:  # two workers may submit at once: one checker a search
        checker = getattr(session, "checker", None)
        if checker is None:
            checker = session.checker = Checker(session)
    session.verifying[node_id] = "running the agent's own checks"
    try:
        checker.check(box, node_id, patch)
    except SandboxError as exc:  # a check that cannot run decides nothing; the search goes on
        session.emit("command", name="checks_failed", by="engine", id=node_id, reason=_excerpt(str(exc)))
    finally:
        session.verifying.pop(node_id, None)


# -- what selection and the stopping rule read ------------------------------------------
def settled(tree: Tree) -> str | None:
    """The candidate that passes every kept reproduction test (one at least) and breaks no
    visible test, if one does: DARS's stopping rule."""
    kept = kept_tests(tree)
    if not kept:
        return None
    for node_id in sorted(tree.nodes):
        facts = tree.nodes[node_id].extra.get("checks")
        if facts and facts.get("n_regressions") == 0 and all((facts.get("repro") or {}).get(t) for t in kept):
            return node_id
    return None
