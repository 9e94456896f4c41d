"""Flag statistics over many runs, and clusters of failed trajectories.

``flag_rates``: how often each flag appears in resolved and in failed trajectories, and
the ratio (failed rate / resolved rate). ``clusters``: failed trajectories grouped by what
went wrong: a TF-IDF vector of each one's action kinds, flags and error lines, k-means
(k-means++ seeding, fixed seed), each cluster labelled by its heaviest terms.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field


from trajscope.engine.analysis.flags import FLAGS, detect, outcome, trajectories
from trajscope.engine.tree import ROOT, Tree

_WORD = re.compile(r"[A-Za-z_][A-Za-z_]{2,}")
_ERROR_LINE = re.compile(r"^.*(Error|Exception|FAILED|error:|not found|No such file).*$", re.MULTILINE)


@dataclass
class Trajectory:
    run: str
    leaf: str
    outcome: str
    steps: int
    flags: dict[str, list[str]]  # flag -> the steps that raised it
    text: str = field(repr=False, default="")
    judged: dict[str, str] | None = None  # flag -> the judge's rationale, with --judge
    judge_error: str | None = None
    file: str = ""  # the file it was read from, for a person to open

    def to_json(self) -> dict:
        out = {
            "run": self.run,
            "leaf": self.leaf,
            "outcome": self.outcome,
            "steps": self.steps,
            "flags": self.flags,
            "file": self.file,
        }
        if self.judged is not None or self.judge_error:
            out["judge"] = {"flags": self.judged or {}, "error": self.judge_error}
        return out


def collect(tree: Tree, run: str, judge=None) -> list[Trajectory]:
    """The trajectories of a tree with their flags; ``judge`` (an LLMPolicy) also tags each one."""
    from trajscope.engine.analysis.judge import judge_flags

    out = []
    for leaf in trajectories(tree):
        flags = {f.name: f.steps for f in detect(tree, leaf)}
        path = [n for n in tree.path(leaf) if n.id != ROOT]
        errors = " ".join(m.group(0)[:120] for n in path for m in _ERROR_LINE.finditer(n.observation or ""))
        text = " ".join([*(f"kind_{n.kind}" for n in path), *(f"flag_{f}" for f in flags), errors])
        item = Trajectory(run, leaf, outcome(tree, leaf), len(path), flags, text)
        if judge is not None:
            found, item.judge_error = judge_flags(judge, tree, leaf)
            item.judged = None if item.judge_error else {f.name: f.why for f in found}
        out.append(item)
    return out


def flag_rates(items: list[Trajectory], source: str = "detectors") -> dict:
    """Rates by outcome, and over all trajectories (``all``: what a set of runs without verdicts, as
    every imported one is, still says); ``source`` is ``detectors`` or ``judge`` (trajectories it
    could not read left out)."""
    if source == "judge":
        items = [t for t in items if t.judged is not None]
    groups = {k: [t for t in items if t.outcome == k] for k in ("resolved", "failed", "unknown")}
    groups["all"] = items
    rows = {}
    for flag in FLAGS:
        row = {}
        for key, group in groups.items():
            hits = sum(flag in (t.judged if source == "judge" else t.flags) for t in group)
            row[key] = {"count": hits, "of": len(group), "rate": round(hits / len(group), 3) if group else None}
        ok, bad = row["resolved"]["rate"], row["failed"]["rate"]
        row["failed_over_resolved"] = round(bad / ok, 2) if ok and bad is not None else None
        rows[flag] = row
    return {"trajectories": {k: len(v) for k, v in groups.items() if k != "all"}, "flags": rows}


def clusters(items: list[Trajectory], k: int | None = None, seed: int = 0) -> list[dict]:
    """Failed trajectories grouped by what went wrong; each group with a label and its members.

    TF-IDF over each trajectory's text (actions, flags, error words), then k-means with
    ten restarts (scikit-learn: k-means++ seeding, the best of the restarts kept)."""
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfVectorizer

    failed = [t for t in items if t.outcome == "failed"]
    if not failed:
        return []
    k = min(len(failed), k or max(1, round(math.sqrt(len(failed) / 2))))
    vectorizer = TfidfVectorizer(token_pattern=_WORD.pattern, lowercase=True, sublinear_tf=True)
    try:
        x = vectorizer.fit_transform([t.text for t in failed])
    except ValueError:  # no word at all in any of them: one group
        x = None
    if x is None or x.shape[1] == 0:
        return [{"label": "", "size": len(failed), "members": [f"{t.run}#{t.leaf}" for t in failed]}]
    vocab = vectorizer.get_feature_names_out()
    distinct = x.shape[0] if k <= 1 else len({tuple(row.indices) + tuple(row.data) for row in x})
    k = min(k, distinct)
    if k > 1:
        labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(x)
    else:
        labels = np.zeros(len(failed), dtype=int)
    out = []
    for j in sorted(set(labels.tolist())):
        members = [t for t, lab in zip(failed, labels) if lab == j]
        weight = np.asarray(x[labels == j].mean(0)).ravel()
        top = [vocab[i] for i in np.argsort(-weight)[:4] if weight[i] > 0]
        out.append(
            {
                "label": ", ".join(w.replace("kind_", "").replace("flag_", "") for w in top),
                "size": len(members),
                "members": [f"{t.run}#{t.leaf}" for t in members],
            }
        )
    return sorted(out, key=lambda c: (-c["size"], c["label"]))
