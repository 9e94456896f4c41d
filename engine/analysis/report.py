"""The report of ``trajscope analyze``: rubric flags, their rates in resolved and failed
trajectories, clusters of the failures, and the same as a self-contained HTML page."""

from __future__ import annotations

import html
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
            runs.append({"file": str(ref.path), "run": ref.name, "instance": tree.title, "trajectories": len(found)})
            items.extend(found)
    if not items:
        raise AnalysisError("no trajectory found in " + ", ".join(paths))
    report = {"runs": runs, "unread": unread, "not_runs": not_runs, **flag_rates(items), "clusters": clusters(items, k, seed),
              "per_trajectory": [t.to_json() for t in items]}
    if judge is not None:
        report["judge"] = {"model": judge.model, **flag_rates(items, "judge"),
                           "unreadable": sum(t.judged is None for t in items)}
    return report


def pct(cell: dict) -> str:
    return "—" if cell["rate"] is None else f"{cell['rate']:.0%} ({cell['count']}/{cell['of']})"


def _bars(rows: list[tuple[str, list[tuple[float, str]]]], width: int = 560) -> str:
    """A horizontal bar chart as inline SVG: each row a label and one bar per (value 0..1, colour)."""
    bar_h, gap, label_w = 12, 10, 150
    height = sum(len(bars) * bar_h + gap for _, bars in rows) + 10
    parts, y = [f'<svg width="{width + label_w + 60}" height="{height}" role="img">'], 5
    for label, bars in rows:
        parts.append(f'<text x="0" y="{y + bar_h}" font-size="12">{html.escape(label)}</text>')
        for value, colour in bars:
            w = max(1, round(value * width))
            parts.append(f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h - 2}" fill="{colour}"/>')
            parts.append(f'<text x="{label_w + w + 4}" y="{y + bar_h - 2}" font-size="11">{value:.0%}</text>')
            y += bar_h
        y += gap
    return "".join(parts) + "</svg>"


def html_report(report: dict) -> str:
    counts = report["trajectories"]
    flag_rows = [(f, [(report["flags"][f]["resolved"]["rate"] or 0, "#3a9d5d"),
                      (report["flags"][f]["failed"]["rate"] or 0, "#c0392b")]) for f in FLAGS]
    total = max((c["size"] for c in report["clusters"]), default=1)
    cluster_rows = [(f"{c['label'][:22]} ({c['size']})", [(c["size"] / total, "#2c6fbb")]) for c in report["clusters"]]
    rows = "".join(f"<tr><td>{html.escape(f)}</td><td>{pct(r['resolved'])}</td><td>{pct(r['failed'])}</td>"
                   f"<td>{'—' if r['failed_over_resolved'] is None else r['failed_over_resolved']}</td></tr>"
                   for f, r in report["flags"].items())
    members = "".join(f"<li><b>{html.escape(c['label'])}</b> ({c['size']}): {html.escape(', '.join(c['members']))}</li>"
                      for c in report["clusters"])
    runs = "".join(f"<li>{html.escape(r['file'])} — {html.escape(r['instance'])}, {r['trajectories']} trajectories</li>"
                   for r in report["runs"])
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>trajscope analyze</title>
<style>body{{font-family:system-ui,sans-serif;max-width:900px;margin:2em auto}}td,th{{padding:2px 10px;text-align:left}}</style>
</head><body><h1>Trajectory analysis</h1>
<p>{sum(counts.values())} trajectories: {counts['resolved']} resolved, {counts['failed']} failed,
{counts['unknown']} unverified.</p>
<h2>Rubric flags</h2><p>Share of resolved (green) and failed (red) trajectories with each flag.</p>
{_bars(flag_rows)}
<table><tr><th>flag</th><th>in resolved</th><th>in failed</th><th>failed / resolved</th></tr>{rows}</table>
<h2>Failure clusters</h2>{_bars(cluster_rows) if cluster_rows else '<p>No failed trajectory.</p>'}<ul>{members}</ul>
<h2>Runs</h2><ul>{runs}</ul></body></html>
"""


