"""PDR: refinement rounds whose rollouts are conditioned on distilled summaries of the last round.

A round's submissions are distilled into one note (each attempt's summary, its
patch in short, and how the PRM rated it; never the hidden tests' verdict), and
the next round's rollouts start from the task with that note in their prompt.
"""

from __future__ import annotations

from engine.search.select import path_score, summarize
from engine.tree import Tree

NOTE = """Earlier attempts at this issue, distilled. Learn from them: keep what looked promising,
avoid what failed, and do not simply repeat an attempt.

{attempts}"""


def distill(tree: Tree, submitted: list[str], patch_chars: int = 1200) -> str:
    parts = []
    for i, node_id in enumerate(submitted, 1):
        node = tree.nodes[node_id]
        patch = (node.patch or "(empty patch)")[:patch_chars]
        parts.append(f"Attempt {i} (PRM {path_score(tree, node_id):.2f}):\n"
                     f"{node.summary or summarize(tree, node_id)}\n<patch>\n{patch}\n</patch>")
    return NOTE.format(attempts="\n\n".join(parts) or "(none submitted)")
