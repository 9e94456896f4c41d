"""What the agent's own checks said of a candidate, and why ``--select tests`` chose as it did:
the lines the submit and compare screens, the node detail and the status bar share, so each
says the same (engine/search/checks.py runs the checks; none of them is a hidden test)."""

from __future__ import annotations

from rich.text import Text

from trajscope.engine.search.select import facts_of, kept_tests, select_tests
from trajscope.engine.tree import Tree


def selection(tree: Tree) -> tuple[str | None, dict]:
    """The node ``--select tests`` chooses and each candidate's facts (by node, duplicates too)."""
    chosen, pool = select_tests(tree)
    facts = {}
    for c in pool:
        for node_id in [c.node, *c.duplicates]:
            facts[node_id] = c.facts | {"candidate": c.node}
    return chosen, facts


def status_words(tree: Tree) -> str | None:
    """The status bar's account of the checks: candidates checked, tests kept, any settled."""
    if not tree.checks and not tree.checked:
        return None
    written = len(tree.checks.get("tests") or [])
    kept = kept_tests(tree)
    words = f"checks {len(tree.checked)} patch(es) · repro tests kept {len(kept)}/{written}"
    best = max(
        (sum(1 for t in kept if (f.get("repro") or {}).get(t) is True) for f in tree.checked.values()), default=0
    )
    return words + (f" · best passes {best}/{len(kept)}" if kept else "")


def checks_text(tree: Tree, node_id: str, chosen: str | None = None, facts: dict | None = None) -> Text | None:
    """The agent's checks of the candidate at ``node_id`` and where selection put it; None when
    the node was never checked (its patch was not submitted, or the checks were off)."""
    own = facts_of(tree, node_id)
    if not own:
        return None
    if facts is None:
        chosen, facts = selection(tree)
    mine = facts.get(node_id, {})
    text = Text("the agent's own checks (no hidden test)", style="bold")
    repro = own.get("repro") if isinstance(own.get("repro"), dict) else {}
    written = len(tree.checks.get("tests") or [])
    kept = kept_tests(tree)
    if kept:
        text.append(f"\n  reproduction tests ({len(kept)} kept of {written} written): ")
        for t in kept:
            ok = repro.get(t) is True
            text.append(f"{t} {'✓' if ok else '✗'}  ", style="green" if ok else "red")
    else:
        text.append(f"\n  reproduction tests: none kept of {written} written (none failed on the base state)")
    broken = own.get("n_regressions")
    if broken == 0:
        text.append("\n  visible tests: breaks none that passed on the base state", style="green")
    elif isinstance(broken, int):
        names = ", ".join(str(n) for n in (own.get("regressions") or [])[:5])
        text.append(f"\n  visible tests: breaks {broken} that passed on the base state ({names})", style="red")
    if mine.get("cluster") is not None:
        text.append(f"\n  behaviour: {mine['cluster']} candidate(s) behave as it does (its own commands re-run)")
    if chosen is not None and mine:
        if mine.get("candidate") == chosen:
            text.append(f"\n  --select tests chooses it: {mine.get('why') or facts[chosen].get('why')}", style="bold")
        else:
            text.append(f"\n  --select tests chooses #{chosen}: {facts[chosen].get('why')}")
    return text
