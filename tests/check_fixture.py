"""A run whose candidates the agent's own checks really ran on (engine/search/checks.py): the
bundled slugify task, its fix and two plausible wrong ones, a model that answers requests for
reproduction tests from a list. The unit and the functional tests of the checks share it."""

from __future__ import annotations

import itertools
import threading

from trajscope.engine.policy.llm import LLMPolicy
from trajscope.engine.search.checks import Checker
from trajscope.engine.search.select import normalise
from trajscope.engine.search.config import SearchConfig
from trajscope.engine.session import Session
from trajscope.engine.tasks import load_task_dir
from trajscope.engine.verification import apply_patch
from tests.conftest import DEMO_TASKS
from tests.fake_llm import FakeLLM

SLUGIFY = load_task_dir(next(p for p in DEMO_TASKS if p.name == "slugify-accents"))

RIGHT_TEST = """```python
from slugkit import slugify


def test_accents_become_their_base_letters():
    assert slugify("Cr\\u00e8me br\\u00fbl\\u00e9e") == "creme-brulee"
```"""
VACUOUS_TEST = "```python\nimport slugkit\n\n\ndef test_imports():\n    assert slugkit\n```"
NO_TEST = "I would need to see the code first."
WEAK_TEST = """```python
from slugkit import slugify


def test_not_what_the_issue_reports():
    assert slugify("Cr\\u00e8me br\\u00fbl\\u00e9e \\u00e0 la fran\\u00e7aise") != "crme-brle-la-franaise"
```"""

# Plausible wrong fixes: each changes the output; the first also breaks a visible test.
WRONG = (SLUGIFY.path / "wrong.patch").read_text(encoding="utf-8")
WRONG_REPLACE = """diff --git a/slugkit/text.py b/slugkit/text.py
--- a/slugkit/text.py
+++ b/slugkit/text.py
@@ -10,5 +10,5 @@
 
 def to_ascii(text: str) -> str:
-    ascii_text = text.encode("ascii", "ignore").decode("ascii")
-    return unicodedata.normalize("NFKD", ascii_text)
+    decomposed = unicodedata.normalize("NFKD", text)
+    return decomposed.encode("ascii", "replace").decode("ascii")
 
"""

# Fixes the issue and breaks two visible tests (slugs keep a trailing separator).
BREAKS = """diff --git a/slugkit/text.py b/slugkit/text.py
index 7aa95fc..f84e2c2 100644
--- a/slugkit/text.py
+++ b/slugkit/text.py
@@ -9,9 +9,9 @@ _NON_WORD = re.compile(r"[^a-z0-9]+")
 
 
 def to_ascii(text: str) -> str:
-    ascii_text = text.encode("ascii", "ignore").decode("ascii")
-    return unicodedata.normalize("NFKD", ascii_text)
+    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
+    return ascii_text
 
 
 def hyphenate(text: str, separator: str = "-") -> str:
-    return _NON_WORD.sub(separator, text.lower()).strip(separator)
+    return _NON_WORD.sub(separator, text.lower())
"""


class Answers:
    """Replies to successive requests from a list (the last repeats)."""

    def __init__(self, texts: list[str]):
        self.texts, self.count, self.lock = texts, itertools.count(), threading.Lock()

    def __call__(self, request: dict, index: int) -> dict:
        with self.lock:
            i = next(self.count)
        return {"text": self.texts[min(i, len(self.texts) - 1)]}


def checked_session(tmp_path, server: FakeLLM, repro_tests: int) -> Session:
    """A session (not started) that checks candidates: its log holds the run's start."""
    session = Session(
        SLUGIFY,
        LLMPolicy("openai/fake", api_base=server.url),
        tmp_path / "run.jsonl",
        config=SearchConfig(checks=True, repro_tests=repro_tests, timeout=60),
    )
    session.emit("run_started", task=SLUGIFY.to_json(), config={**session.config.to_json(), "sandbox": "local"})
    return session


def add_candidate(session: Session, checker: Checker, box, node_id: str, patch: str, prm: float) -> None:
    """A submitted node holding ``patch`` (scored ``prm``), checked as a search checks it."""
    session.emit("node_added", id=node_id, parent=None, action={"tool": "submit", "args": {}}, kind="submit")
    session.emit("node_executed", id=node_id, observation="", exit_code=0, patch=patch)
    session.emit("node_scored", id=node_id, scorer="heuristic", score=prm)
    box.restore(box.base)
    apply_patch(box, patch)
    session.refs[node_id] = box.snapshot()
    checker.check(box, node_id, patch)
    resolved = normalise(patch) == normalise(SLUGIFY.gold_patch)  # what the hidden tests say (the fixture knows)
    session.emit("submitted", id=node_id, patch=patch, verified={"resolved": resolved, "passed": [], "failed": []})


def checked_run(tmp_path, answers: list[str], candidates: list[tuple[str, str, float]]) -> Session:
    """``(node, patch, prm)`` candidates submitted and checked in turn, the model answering
    requests for reproduction tests from ``answers``. The log is closed."""
    with FakeLLM(Answers(answers)) as server:
        session = checked_session(tmp_path, server, repro_tests=len(answers))
        checker = Checker(session)
        with SLUGIFY.open_sandbox("local") as box:
            for node_id, patch, prm in candidates:
                add_candidate(session, checker, box, node_id, patch, prm)
    session.recorder.log.close()
    return session


def three_candidates(tmp_path) -> Session:
    """The fix (n2) and two plausible wrong ones the PRM prefers; a model that writes one right test."""
    return checked_run(
        tmp_path, [RIGHT_TEST], [("n1", WRONG, 0.9), ("n2", SLUGIFY.gold_patch, 0.4), ("n3", WRONG_REPLACE, 0.8)]
    )
