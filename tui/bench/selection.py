"""``trajscope bench search --view selection``: how often the selected patch is the fix the
search found.

A search can hold a resolving patch and hand back another; that last step is what a
batch, ``predictions.jsonl`` and ``search --headless`` report. Every search here runs
once, as ``trajscope search --model M`` starts by default (the simulated model through
litellm over HTTP, its noisy fixes and reproduction tests; the agent's checks on when the
default selection reads them; ``--oracle`` off), and then every selector chooses from the
same finished tree, so selectors are compared on paired trees at the cost of one search. Per strategy and selector: the oracle rate (searches
whose tree holds a resolving submitted patch: what a perfect selector reaches), the
selected rate (searches whose selected patch resolves), and the selection efficiency
(selected / oracle), each with a 95 % Wilson interval, and the paired difference from
the first selector (searches only one of the two resolved).
"""

from __future__ import annotations

import json
import time
from pathlib import Path


def project_selectors() -> tuple[str, ...]:
    """The selectors ``--select`` offers, read from the search spec (one list, not a second);
    ``auto`` is left out, as it names one of the others."""
    from trajscope.engine.spec import FIELDS

    return tuple(name for name in FIELDS["select"].metadata["choices"] if name != "auto")


def oracle_holds(tree) -> bool:
    """Whether any submitted patch in ``tree`` resolves: the hidden tests' verdict, read only
    here, after the search and the selection, to grade them."""
    from trajscope.engine.search.select import candidates

    return any(
        (tree.nodes[n].verified or {}).get("resolved") for c in candidates(tree) for n in [c.node, *c.duplicates]
    )


def choose_with(name: str, tree, api_base: str, model: str, seed: int) -> str | None:
    """The node ``name`` selects, built as ``trajscope search --select name`` builds it
    (judges ask the same simulated model)."""
    from trajscope.engine.launch import selector
    from trajscope.engine.spec import SearchSpec

    spec = SearchSpec(model=model, api_base=api_base, select=name, seed=seed, oracle=False)
    chosen, _ = selector(spec)(tree)
    return chosen


def select_row(searching, task, strategy: str, seed: int, wrong_rate: float, names) -> dict:
    """One search (``searching``: ``search.simulated_search``'s context, not yet entered), then
    every selector in ``names`` on its tree; the row the summary reads."""
    started = time.perf_counter()
    with searching as (session, server, model):
        searched_s = time.perf_counter() - started
        tree = session.tree
        picks = {}
        for name in names:
            node = choose_with(name, tree, server.url, model, seed)
            picks[name] = {"node": node, "resolved": bool(node and tree.nodes[node].resolved)}
    from trajscope.engine.search.select import candidates

    stats = tree.stats()
    return {
        "task": task.instance_id,
        "strategy": strategy,
        "seed": seed,
        "wrong_rate": wrong_rate,
        "oracle": oracle_holds(tree),
        "distinct": len(candidates(tree)),
        "selected": picks,
        "nodes": stats["nodes"],
        "search_s": round(searched_s, 2),
        "select_s": round(time.perf_counter() - started - searched_s, 2),
    }


def _rate(k: int, n: int) -> dict:
    from trajscope.engine.policy_runs import wilson

    low, high = wilson(k, n)
    return {"k": k, "n": n, "rate": round(k / n, 3) if n else None, "ci95": [round(low, 3), round(high, 3)]}


def summarise(rows: list[dict], names: list[str]) -> list[dict]:
    """Per (wrong rate, strategy, selector): oracle, selected and efficiency rates, the paired
    wins and losses against ``names[0]`` on the same searches, and the searches' mean distinct
    candidates, nodes and seconds. Efficiency is the selected rate
    among the searches whose tree holds a fix: a selector can only resolve where the oracle does,
    so it is a binomial rate over those searches and gets a Wilson interval; with no such
    search it is None."""
    out = []
    for key in sorted({(r["wrong_rate"], r["strategy"]) for r in rows}):
        group = [r for r in rows if (r["wrong_rate"], r["strategy"]) == key]
        oracle = [r for r in group if r["oracle"]]
        for name in names:
            for r in group:
                if r["selected"][name]["resolved"] and not r["oracle"]:
                    raise ValueError(f"{r['task']} seed {r['seed']}: {name} resolved where no submission did")
            solved = sum(r["selected"][name]["resolved"] for r in group)
            base = names[0]
            out.append(
                {
                    "wrong_rate": key[0],
                    "strategy": key[1],
                    "selector": name,
                    "searches": len(group),
                    "oracle": _rate(len(oracle), len(group)),
                    "selected": _rate(solved, len(group)),
                    "efficiency": _rate(solved, len(oracle)) if oracle else None,
                    "vs": base,
                    "wins": sum(r["selected"][name]["resolved"] and not r["selected"][base]["resolved"] for r in group),
                    "losses": sum(
                        r["selected"][base]["resolved"] and not r["selected"][name]["resolved"] for r in group
                    ),
                    "distinct": round(sum(r["distinct"] for r in group) / len(group), 2),
                    "nodes": round(sum(r["nodes"] for r in group) / len(group), 1),
                    "search_s": round(sum(r["search_s"] for r in group) / len(group), 1),
                }
            )
    return out


def report(rows: list[dict], names: list[str], args, tasks: int, out_dir: Path) -> int:
    """The summary as JSON (``--json``) or a table."""
    from rich.console import Console
    from rich.table import Table

    summary = summarise(rows, names)
    if args.json:
        head = {"view": "selection", "oracle": False, "selectors": names, "max_nodes": args.max_nodes}
        print(
            json.dumps(head | {"seeds": args.seeds, "tasks": tasks, "summary": summary, "logs": str(out_dir)}, indent=2)
        )
        return 0
    table = Table(
        title=f"bench search --view selection: {tasks} tasks × {args.seeds} seeds, node budget {args.max_nodes}, "
        "--oracle off"
    )
    for column in (
        "wrong rate",
        "strategy",
        "selector",
        "oracle",
        "selected",
        "95% CI",
        "efficiency",
        "95% CI",
        f"vs {names[0]}",
        "distinct",
        "nodes",
        "search s",
    ):
        table.add_column(column)

    def rate(r):
        return f"{r['k']}/{r['n']} ({r['rate']:.2f})" if r else "–"

    def ci(r):
        return f"{r['ci95'][0]:.2f}–{r['ci95'][1]:.2f}" if r else "–"

    for r in summary:
        table.add_row(
            f"{r['wrong_rate']:g}",
            r["strategy"],
            r["selector"],
            rate(r["oracle"]),
            rate(r["selected"]),
            ci(r["selected"]),
            rate(r["efficiency"]),
            ci(r["efficiency"]),
            f"+{r['wins']} −{r['losses']}",
            f"{r['distinct']:.1f}",
            f"{r['nodes']:.1f}",
            f"{r['search_s']:.1f}",
        )
    Console().print(table)
    return 0
