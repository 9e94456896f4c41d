"""Submit a node: its patch, the hidden tests run in a fresh sandbox with progress, the result,
the agent's own checks of the patch and why ``--select tests`` chose as it did, and exports (the patch file, a SWE-bench predictions line) into the export folder, through
engine/files.py: the file name is made safe from the task's id, and a link is never followed.

The patch pane follows the tree: a node that never ran (pruned before it ran) has no state of
its own until the submission runs it, and the ``submitted`` event then brings the patch that was
verified; the pane and the header show it as soon as the screen's tree folds that event."""

from __future__ import annotations

import time
from pathlib import Path

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, ProgressBar, Static

from trajscope.engine.formats.export import ExportError, append_prediction, write_patch
from trajscope.engine.trace import diff_stat
from trajscope.engine.tree import Node, Tree
from trajscope.tui.settings import key_of
from trajscope.tui.widgets.check_summary import checks_text

POLL_S = 0.1


def has_run(node: Node) -> bool:
    """Whether the node's own action ran (a candidate pruned before it ran has no state yet)."""
    return node.exit_code is not None or node.state_ref is not None or node.status in ("running", "failed")


def patch_note(node: Node) -> Text:
    """What the patch pane says where the patch at ``node`` is empty."""
    if not has_run(node):
        return Text(
            f"#{node.id} has not run (it was pruned, or waits, before its step ran), so its patch is not "
            "known yet: submitting runs its path and its action first, and the patch it verifies is "
            "shown here then.",
            style="yellow",
        )
    return Text(
        "The state at this node is the base state (nothing on its path changed a file): "
        "submitting it submits an empty patch.",
        style="yellow",
    )


def verdict_text(verified: dict) -> Text:
    passed, failed = verified.get("passed") or [], verified.get("failed") or []
    text = Text()
    if verified.get("resolved"):
        text.append("✓ RESOLVED", style="bold green")
    elif verified.get("verdict") == "error":
        text.append("! VERIFICATION ERROR: the tests could not say", style="bold yellow")
    else:
        text.append("✗ NOT RESOLVED", style="bold red")
    text.append(f" — {len(passed)} passed, {len(failed)} failed")
    if verified.get("skipped"):
        text.append(f", {len(verified['skipped'])} skipped (on neither side)")
    if verified.get("duration_s") is not None:
        text.append(f" in {verified['duration_s']:.1f} s")
    if verified.get("grader") == "swebench harness":
        text.append(" · graded by the SWE-bench harness", style="dim")
    if verified.get("error"):
        text.append(f"\n{verified['error']}", style="red")
    for name in failed[:20]:
        text.append(f"\n  failed: {name}", style="red")
    if len(failed) > 20:
        text.append(f"\n  … and {len(failed) - 20} more")
    return text


class SubmitScreen(Screen[None]):
    """``s`` on a node. With a live search the verification starts at once."""

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back to the tree", id="submit.close"),
        Binding("x", "export_patch", "Export the patch", id="submit.export_patch"),
        Binding("w", "export_prediction", "Write a SWE-bench predictions line", id="submit.export_prediction"),
        Binding("v", "verify", "Run the tests again", id="submit.verify"),
    ]

    def __init__(self, tree: Tree, node_id: str, session=None, export_dir: Path | None = None) -> None:
        super().__init__()
        self.model, self.node_id, self.session = tree, node_id, session
        self.export_dir = export_dir or Path.cwd()
        self.asked_at: float | None = None
        self.shown_verdict: dict | None = None
        self.shown_patch: tuple[str, bool] | None = None  # (patch, ran) the pane shows
        self.shown_checks: tuple | None = None

    @property
    def node(self):
        return self.model.nodes[self.node_id]

    def compose(self) -> ComposeResult:
        with Vertical(id="submit-body"):
            yield Static(id="submit-header")
            with VerticalScroll(id="submit-diff") as diff:
                diff.border_title = "patch"
                yield Static(id="submit-patch")
            with Vertical(id="submit-tests") as tests:
                tests.border_title = "hidden tests, in a fresh sandbox"
                yield ProgressBar(total=None, show_eta=False, id="submit-progress")
                yield Static(id="submit-phase")
                yield Static(id="submit-verdict")
            yield Static(id="submit-checks")
        yield Footer()

    def on_mount(self) -> None:
        node = self.node
        self._show_patch()
        if node.verified is None and self.session is not None:
            self.action_verify()
        self._poll()
        self.set_interval(POLL_S, self._poll, name="submit-poll")

    def action_verify(self) -> None:
        if self.session is None:
            self.notify("This is a recorded run: tests run only in a live search.", severity="warning")
            return
        if self.node_id in self.session.verifying:
            return
        self.asked_at = time.monotonic()
        self.shown_verdict = None
        self.session.verifying[self.node_id] = "queued"
        self.screen.run_worker(
            lambda: self.session.commands.submit(self.node_id),
            thread=True,
            exit_on_error=False,
            group="commands",
            description="submit",
        )

    def _show_patch(self) -> None:
        """The header and the patch pane, again only when the patch at the node or whether it ran changed."""
        node = self.node
        patch = self.model.patch_at(self.node_id)
        shown = (patch, has_run(node))
        if shown == self.shown_patch:
            return
        self.shown_patch = shown
        stat = diff_stat(patch)
        self.query_one("#submit-header", Static).update(
            Text(f"Submit #{node.id} ({node.kind}: {node.short(60)})" + (f" — {stat}" if stat else ""), style="bold")
        )
        theme = "ansi_dark" if self.app.current_theme.dark else "ansi_light"
        self.query_one("#submit-patch", Static).update(
            Syntax(patch, "diff", theme=theme, word_wrap=True) if patch.strip() else patch_note(node)
        )

    def _show_checks(self) -> None:
        """The agent's own checks of this patch and why selection chose as it did, again only when
        a candidate's checks arrived (selection reads every candidate's)."""
        tree = self.model
        shown = (len(tree.checked), tree.stats()["submissions"], id(self.node.extra.get("checks")))
        if shown == self.shown_checks:
            return
        self.shown_checks = shown
        text = checks_text(tree, self.node_id)
        widget = self.query_one("#submit-checks", Static)
        widget.display = text is not None
        widget.update(text or "")

    def _poll(self) -> None:
        self._show_patch()
        self._show_checks()
        node = self.node  # the screen's own fold: the verdict and the patch come from the same events
        phase = self.session.verifying.get(self.node_id) if self.session is not None else None
        bar = self.query_one(ProgressBar)
        if phase is not None:
            waited = time.monotonic() - (self.asked_at or time.monotonic())
            bar.display = True
            self.query_one("#submit-phase", Static).update(Text(f"{phase}… {waited:.1f} s"))
            return
        bar.display = False
        if node.verified is None:
            verify = key_of(self, "submit.verify")
            self.query_one("#submit-phase", Static).update(f"not verified yet — press {verify} to run the hidden tests")
            return
        if node.verified is not self.shown_verdict:
            self.shown_verdict = node.verified
            self.query_one("#submit-phase", Static).update("")
            self.query_one("#submit-verdict", Static).update(verdict_text(node.verified))

    def action_export_patch(self) -> None:
        try:
            path = write_patch(self.model, self.node_id, self.export_dir)
        except (ExportError, OSError) as exc:
            self.notify(f"Nothing exported: {exc}", severity="error", markup=False)
            return
        self.notify(f"patch written to {path}", markup=False)

    def action_export_prediction(self) -> None:
        try:
            path = append_prediction(self.model, self.node_id, self.export_dir / "predictions.jsonl")
        except (ExportError, OSError) as exc:
            self.notify(f"Nothing exported: {exc}", severity="error", markup=False)
            return
        self.notify(f"prediction for {self.model.title!r} written to {path}", markup=False)
