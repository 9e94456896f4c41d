"""The report of ``trajscope analyze``: rubric flags, their rates in resolved and failed
trajectories, clusters of the failures, and the same as a self-contained HTML page."""

from __future__ import annotations

import html
import shlex
from pathlib import Path

from trajscope.engine.analysis.flags import FLAGS
from trajscope.engine.errors import UserCausedError


class AnalysisError(UserCausedError):
    """Nothing to analyse, or a file that cannot be read; one sentence for the user."""


def analyze(paths: list[str], k: int | None = None, seed: int = 0, judge=None) -> dict:
    from trajscope.engine.analysis.stats import clusters, collect, flag_rates
    from trajscope.engine.formats import FormatError
    from trajscope.engine.formats.collection import find_runs, find_verdicts
    from trajscope.engine.tree import Tree

    items, runs, unread, not_runs = [], [], [], []
    for raw in paths:
        path = Path(raw)
        try:  # a folder or a multi-run file: every run in it, with the harness's verdicts
            refs = find_runs(path)
            not_runs += [{"path": str(p), "why": why} for p, why in refs.skipped]
            verdicts = find_verdicts(path) if path.is_dir() else {}
        except FormatError as exc:
            raise AnalysisError(str(exc)) from None
        except OSError as exc:
            raise AnalysisError(f"{path} cannot be read: {exc.strerror or exc}") from None
        for ref in refs:
            try:
                tree = Tree.fold(ref.load(verdicts).events)
            except FormatError as exc:
                if len(refs) > 1:
                    unread.append(str(exc))  # one bad run of many is said, not fatal
                    continue
                raise AnalysisError(str(exc)) from None
            except OSError as exc:
                raise AnalysisError(f"{ref.path} cannot be read: {exc.strerror or exc}") from None
            found = collect(tree, ref.name, judge)
            for item in found:
                item.file = str(ref.path)
            runs.append(
                {
                    "file": str(ref.path),
                    "run": ref.name,
                    "instance": tree.title,
                    "trajectories": len(found),
                    "open": open_command(ref.path),
                }
            )
            items.extend(found)
    if not items:
        raise AnalysisError("no trajectory found in " + ", ".join(paths))
    report = {
        "runs": runs,
        "unread": unread,
        "not_runs": not_runs,
        **flag_rates(items),
        "clusters": clusters(items, k, seed),
        "per_trajectory": [t.to_json() for t in items],
    }
    if judge is not None:
        report["judge"] = {
            "model": judge.model,
            **flag_rates(items, "judge"),
            "unreadable": sum(t.judged is None for t in items),
        }
    return report


def open_command(path: Path) -> str:
    """The command line that shows a run: a person copies it from the report."""
    return f"trajscope open {shlex.quote(str(path))}"


def pct(cell: dict) -> str:
    return "—" if cell["rate"] is None else f"{cell['rate']:.0%} ({cell['count']}/{cell['of']})"


def _bars(rows: list[tuple[str, list[tuple[float, str]]]], width: int = 480, label_w: int = 260) -> str:
    """A horizontal bar chart as inline SVG: each row a label and one bar per (value 0..1, colour);
    a label longer than its column is cut with an ellipsis, and its whole text is the tooltip."""
    bar_h, gap = 12, 10
    height = sum(len(bars) * bar_h + gap for _, bars in rows) + 10
    parts, y = [f'<svg width="{width + label_w + 60}" height="{height}" role="img">'], 5
    fits = label_w // 7  # characters of a 12px sans-serif label in its column
    for label, bars in rows:
        shown = label if len(label) <= fits else label[: fits - 1] + "…"
        parts.append(
            f'<text x="0" y="{y + bar_h}" font-size="12"><title>{html.escape(label)}</title>{html.escape(shown)}</text>'
        )
        for value, colour in bars:
            w = max(1, round(value * width))
            parts.append(f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h - 2}" fill="{colour}"/>')
            parts.append(f'<text x="{label_w + w + 4}" y="{y + bar_h - 2}" font-size="11">{value:.0%}</text>')
            y += bar_h
        y += gap
    return "".join(parts) + "</svg>"


GROUPS = (
    ("all", "all", "#555555"),
    ("resolved", "resolved", "#3a9d5d"),
    ("failed", "failed", "#c0392b"),
    ("unknown", "unverified", "#d4a017"),
)
"""The report's columns: every trajectory, then by outcome; "unverified" is a trajectory whose end
no test verdict reached (every imported run without a harness report)."""
EXAMPLES = 3  # flagged trajectories listed per flag


def _file_link(path: str) -> str:
    uri = Path(path).resolve().as_uri() if path else ""
    return f'<a href="{html.escape(uri)}">{html.escape(path)}</a>'


def _examples(report: dict) -> str:
    """For each flag, a few trajectories that raised it (failed first, then unverified, then
    resolved), each with the steps to read and the command line that opens its run."""
    order = {"failed": 0, "unknown": 1, "resolved": 2}
    parts = []
    for flag in FLAGS:
        hits = sorted(
            (t for t in report["per_trajectory"] if flag in t["flags"]), key=lambda t: order.get(t["outcome"], 3)
        )
        if not hits:
            continue
        items = "".join(
            f"<li><b>{html.escape(t['run'])}</b>, leaf {html.escape(t['leaf'])} ({_OUTCOME.get(t['outcome'], t['outcome'])}, "
            f"{t['steps']} steps): steps {html.escape(', '.join(t['flags'][flag]))} raised it. "
            f"{_file_link(t.get('file', ''))} — <code>{html.escape(open_command(Path(t['file'])) if t.get('file') else '')}"
            "</code></li>"
            for t in hits[:EXAMPLES]
        )
        more = f"<p>and {len(hits) - EXAMPLES} more (--json lists them all).</p>" if len(hits) > EXAMPLES else ""
        parts.append(f"<h3>{html.escape(flag)} ({len(hits)})</h3><ul>{items}</ul>{more}")
    return "".join(parts) or "<p>No trajectory raised a flag.</p>"


def _many(n: int, one: str, more: str = "") -> str:
    return f"{n} {one if n == 1 else more or one + 's'}"


_OUTCOME = {"unknown": "unverified", "resolved": "resolved", "failed": "failed"}


def html_report(report: dict) -> str:
    """The report as one self-contained page: every number the terminal tables show (the
    unverified column too, and rates over all trajectories, so runs without verdicts still say
    something), flagged examples to read, the runs with the command line that opens each, and
    the files that could not be read."""
    counts = report["trajectories"]
    total = sum(counts.values())
    runs_n = len(report["runs"])
    present = [g for g in GROUPS if g[0] == "all" or counts[g[0]]]  # a column with no trajectory is left out
    flag_rows = [
        (f, [(report["flags"][f][key]["rate"] or 0, colour) for key, _, colour in present]) for f in report["flags"]
    ]
    legend = ", ".join(f'<span style="color:{colour}">■</span> {name}' for _, name, colour in present)
    biggest = max((c["size"] for c in report["clusters"]), default=1)
    cluster_rows = [
        (f"{c['label'] or '(no common term)'} ({c['size']})", [(c["size"] / biggest, "#2c6fbb")])
        for c in report["clusters"]
    ]
    header = "".join(f"<th>in {name}</th>" for _, name, _ in GROUPS)
    rows = "".join(
        f"<tr><td>{html.escape(f)}</td>"
        + "".join(f"<td>{pct(r[key])}</td>" for key, _, _ in GROUPS)
        + f"<td>{'—' if r['failed_over_resolved'] is None else r['failed_over_resolved']}</td></tr>"
        for f, r in report["flags"].items()
    )
    members = (
        "<ul>"
        + "".join(
            f"<li><b>{html.escape(c['label'] or '(no common term)')}</b> ({c['size']}): "
            f"{html.escape(', '.join(c['members']))}</li>"
            for c in report["clusters"]
        )
        + "</ul>"
    )
    if not report["clusters"]:
        members = (
            "<p>No failed trajectory: clusters group the failed ones, and none of these runs has a failed "
            "verdict" + (f" ({counts['unknown']} unverified)" if counts["unknown"] else "") + ".</p>"
        )
    runs = "".join(
        f"<li>{_file_link(r['file'])} — {html.escape(r['instance'])}, {_many(r['trajectories'], 'trajectory', 'trajectories')} — "
        f"<code>{html.escape(r.get('open') or open_command(Path(r['file'])))}</code></li>"
        for r in report["runs"]
    )
    unread = "".join(f"<li>{html.escape(u)}</li>" for u in report.get("unread", []))
    unread_part = (
        f"<h2>Not read ({len(report['unread'])})</h2><p>These files were found but could not be read; "
        f"they are in no number above.</p><ul>{unread}</ul>"
        if unread
        else ""
    )
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>trajscope analyze</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto}}td,th{{padding:2px 10px;text-align:left}}
code{{font-size:90%;overflow-wrap:anywhere}}</style>
</head><body><h1>Trajectory analysis</h1>
<p>{_many(total, "trajectory", "trajectories")} in {_many(runs_n, "run")}: {counts["resolved"]} resolved, {counts["failed"]} failed,
{counts["unknown"]} unverified{f", {_many(len(report['unread']), 'file')} not read" if report.get("unread") else ""}.
A trajectory is one path from the task to a leaf: a linear run is one, a tree (DARS, a search) has one per
leaf, so there are more trajectories than runs. Unverified: no test verdict reached its end (imported runs
without a harness report).</p>
<h2>Rubric flags</h2><p>Share of the trajectories with each flag: {legend}.</p>
{_bars(flag_rows)}
<table><tr><th>flag</th>{header}<th>failed / resolved</th></tr>{rows}</table>
<h2>Flagged examples</h2><p>Trajectories to read for each flag, with the steps (node ids) that raised it;
the command line opens the run in trajscope.</p>{_examples(report)}
<h2>Failure clusters</h2>{_bars(cluster_rows) if cluster_rows else ""}{members}
<h2>Runs ({runs_n})</h2><ul>{runs}</ul>{unread_part}</body></html>
"""
