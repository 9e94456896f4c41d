"""The right pane: everything known about the node under the cursor."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from trajscope.engine.tree import ROOT, Node, Tree
from trajscope.tui.settings import key_of
from trajscope.tui.widgets.action_view import render_action
from trajscope.tui.widgets.text_clean import clean_text, preview

CANDIDATE_CHARS = 800
CRITIC_CHARS = 1500


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def _cut(text: str, limit: int) -> str:
    text = clean_text(text)
    return text if len(text) <= limit else text[:limit] + f"\n… ({len(text) - limit} more characters)"


FLAG_STEPS = 12  # step ids shown for one flag (a long loop raises one on hundreds of steps)
FLAG_WALK = 1024  # steps the UI thread walks at most for a node's flags


class NodeDetail(VerticalScroll):
    """Thought, action, observation, diff, scores and the candidates of one node."""

    def compose(self) -> ComposeResult:
        yield Static(id="detail-header")
        yield Static(id="detail-meta")
        for name in ("flags", "thought", "action", "observation", "diff", "candidates", "critic"):
            yield Static(name.capitalize(), classes="section-title", id=f"title-{name}")
            yield Static(id=f"detail-{name}")
        yield Static(classes="truncated-note", id="detail-truncated")

    def _set(self, name: str, renderable, shown: bool = True) -> None:
        self.query_one(f"#detail-{name}", Static).update(renderable if shown else "")
        self.query_one(f"#detail-{name}").display = shown
        title = self.query(f"#title-{name}")
        if title:
            title.first().display = shown

    shown_id: str | None = None

    def show(self, node: Node | None, tree: Tree | None = None, flags=None) -> None:
        """``flags``: a FlagCache of ``tree`` (the flags then cost the same at any depth)."""
        self.shown_id = node.id if node is not None else None
        if node is None:
            self._set("header", "No node selected")
            for name in ("meta", "flags", "thought", "action", "observation", "diff", "candidates", "critic"):
                self._set(name, "", False)
            self._set("truncated", "", False)
            return
        dark = self.app.current_theme.dark
        syntax_theme = "ansi_dark" if dark else "ansi_light"
        header = self.query_one("#detail-header", Static)
        if node.id == ROOT:
            header.update(Text(f"Task {node.action['raw'] if node.action else ''}"))
        else:
            header.update(Text(f"#{node.id} {node.kind} · depth {node.depth} · {node.status}"))
        header.set_classes(f"status-{node.status}")
        meta = Text(self._meta(node))
        diverged = None
        if tree is not None and node.proposer == "import" and tree.commands:  # a search branched from it
            from trajscope.engine.branching import divergence_at  # its import is start-up time otherwise

            diverged = divergence_at(tree, node.id)
        if diverged:  # the person decided to go on despite it: the step says so wherever it is read
            meta.append(f"\nreplay: {diverged}", style="bold")
        self._set("meta", meta, node.id != ROOT)
        found = self._flags(tree, node, flags) if tree is not None and node.id != ROOT else None
        self._set("flags", found, bool(found))
        self._set("thought", Text(clean_text(node.thought)), bool(node.thought.strip()))
        self._show_action(node, syntax_theme)
        text, left_out = preview(node.observation)
        self._set("observation", Text(text), bool(text.strip()))
        self.query_one("#title-observation", Static).update("Issue" if node.id == ROOT else "Observation")
        note = ""
        if left_out:
            note = (
                f"… {_size(left_out)} more of the observation "
                f"({_size(len(node.observation))} in all) — press {key_of(self.screen, 'explorer.observation')} "
                "to see all of it"
            )
        self._set("truncated", note, bool(note))
        patch = tree.patch_at(node.id) if tree is not None else (node.patch or "")
        if patch.strip() and node.id != ROOT:
            from rich.syntax import Syntax  # pygments' lexers: only once a node has a patch

            self._set("diff", Syntax(patch, "diff", theme=syntax_theme, word_wrap=True))
        else:
            self._set("diff", "", False)
        self._set("candidates", self._candidates(node), bool(node.candidates))
        self._set("critic", self._critic(node), bool(node.critic))
        self.scroll_home(animate=False)

    def _flags(self, tree: Tree, node: Node, cache=None) -> Text | None:
        """The rubric flags of the branch from the task down to this node, with their steps."""
        from trajscope.engine.analysis.flags import detect

        if (cache is None and node.depth > FLAG_WALK) or (
            cache is not None and cache.building and not cache.near(node.id, FLAG_WALK)
        ):
            # a long path without checkpoints (or their cache) yet: shown once they are there,
            # never walked on the UI thread
            return Text("worked out in the background for a path this long…", style="italic")
        try:
            found = cache.flags_at(node.id) if cache is not None else detect(tree, node.id)
        except (KeyError, ValueError, TypeError):  # an imported node with an unusual action
            return None
        if not found:
            return None
        text = Text()
        for i, flag in enumerate(found):
            text.append(("\n" if i else "") + flag.name.replace("_", " "), style="bold")
            shown = ", ".join(f"#{s}" for s in flag.steps[:FLAG_STEPS])
            more = len(flag.steps) - FLAG_STEPS
            text.append(f" — {flag.why} ({shown}" + (f" and {more:,} more" if more > 0 else "") + ")")
        return text

    def _meta(self, node: Node) -> str:
        parts = [f"proposer {node.proposer}"]
        if node.exit_code is not None:
            parts.append(f"exit {node.exit_code}")
        if node.duration_s is not None:
            parts.append(f"{node.duration_s:.2f} s")
        if node.tokens_in or node.tokens_out:
            parts.append(f"tokens {node.tokens_in}→{node.tokens_out}")
        if node.cost:
            parts.append(f"${node.cost:.4f}")
        if node.diff_stat:
            parts.append(node.diff_stat)
        lines = [" · ".join(parts)]
        asked = node.asked_by_person
        if asked == "resample":
            hint = clean_text(str(node.extra.get("hint") or ""))
            lines.append(
                f"drawn by a person's re-sample of #{node.extra.get('expanded_from') or 'the first step'}"
                + (f", with the hint “{hint}”" if hint else ", with no hint")
            )
        elif asked == "edit":
            lines.append(f"a person's edit of #{node.extra['edited_from']}, run as its sibling")
        if node.scores:
            lines.append("scores " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(node.scores.items())))
            for scorer, why in sorted(node.rationales.items()):
                lines.append(f"  {scorer}: {why}")
        if node.status_reason or node.status_by:
            lines.append(f"{node.status} by {node.status_by or 'engine'}: {node.status_reason}")
        if node.verified:
            passed, failed = node.verified.get("passed"), node.verified.get("failed")
            if node.verdict == "error":
                lines.append(f"verified: error, the tests could not say: {node.verified.get('error') or 'no result'}")
            else:
                verdict = "resolved" if node.resolved else "not resolved"
                detail = f" ({len(passed or [])} passed, {len(failed or [])} failed)" if passed is not None else ""
                lines.append(f"verified: {verdict}{detail}")
        checks = node.extra.get("checks")
        if isinstance(checks, dict):  # the agent's own checks (engine/search/checks.py); no hidden test
            repro = checks.get("repro") if isinstance(checks.get("repro"), dict) else {}
            passed = sum(1 for ok in repro.values() if ok is True)
            lines.append(
                f"checks: reproduction tests {passed}/{len(repro)} passed · "
                f"breaks {checks.get('n_regressions', '?')} visible test(s)"
                + (" · cached" if checks.get("cached") else "")
            )
        return "\n".join(lines)

    raw_action = False  # ``a`` shows the action as raw JSON
    coloured = False  # a frame has been drawn: actions are coloured from here on

    def _show_action(self, node: Node, theme: str) -> None:
        if not self.coloured:  # the screen's first frame: plain text now, coloured right after it
            self.call_after_refresh(self._colour, node, theme)
        action = render_action(node.action or {}, theme, self.raw_action, plain=not self.coloured)
        self._set("action", action, node.id != ROOT and bool(node.action))

    def _colour(self, node: Node, theme: str) -> None:
        self.coloured = True
        if self.is_attached and self.shown_id == node.id:  # the cursor has not moved on
            self._show_action(node, theme)

    def _candidates(self, node: Node) -> Text:
        text = Text()
        for i, candidate in enumerate(node.candidates or [], 1):
            body = candidate.get("text") if isinstance(candidate, dict) else str(candidate)
            why = candidate.get("why") if isinstance(candidate, dict) else None
            text.append(f"candidate {i}" + (f" — {why}" if why else "") + "\n", style="bold")
            text.append(_cut(str(body or ""), CANDIDATE_CHARS) + "\n\n")
        return text

    def _critic(self, node: Node) -> Text:
        critic = node.critic or {}
        text = Text()
        if critic.get("response"):
            text.append("critic's answer\n", style="bold")
            text.append(_cut(str(critic["response"]), CRITIC_CHARS) + "\n\n")
        if critic.get("prompt"):
            text.append("critic's prompt\n", style="bold")
            text.append(_cut(str(critic["prompt"]), CRITIC_CHARS) + "\n")
        return text
