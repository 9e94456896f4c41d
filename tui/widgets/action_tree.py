"""The action tree: a lazy Textual view of the engine's tree.

The engine's graph is the truth; TreeNodes exist only for nodes inside expanded
containers.  Chains are drawn flat: a node's only child is shown below it at the
same indent, and indentation grows only where the search branched.

- a *head* is the root or a node whose parent has two or more children;
- a head's view children are its chain (the only child, its only child, ...);
- a node with two or more children shows the heads of its branches inside it.
"""

from __future__ import annotations

import asyncio

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from trajscope.engine.tree import ROOT
from trajscope.engine.tree import Tree as Model
from trajscope.tui.widgets.node_label import build_label
from trajscope.tui.widgets.tree_growth import AUTO_EXPAND_BELOW, CHUNK, GrowingLines

_UNDRAWN = Text("")  # the label of a line not drawn yet (shared: it is never changed)


class ActionTree(GrowingLines, Tree[str]):
    """The left pane: one line per agent turn."""

    COMPONENT_CLASSES = {
        "action-tree--id",
        "action-tree--kind",
        "action-tree--critical",
        "action-tree--muted",
        "action-tree--reward-high",
        "action-tree--reward-mid",
        "action-tree--reward-low",
        "action-tree--pending",
        "action-tree--running",
        "action-tree--failed",
        "action-tree--pruned",
        "action-tree--promoted",
        "action-tree--submitted",
    }
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="tree.down"),
        Binding("k", "cursor_up", "Up", show=False, id="tree.up"),
        Binding("h,left", "fold_or_parent", "Fold / parent", show=False, id="tree.left"),
        Binding("l,right", "unfold_or_child", "Unfold / child", show=False, id="tree.right"),
        Binding("home", "first_line", "First line", show=False, id="tree.first"),
        Binding("G,end", "last_line", "Last line", show=False, id="tree.last"),
        # Tree's own enter ("Select") and space ("Toggle") both fold or unfold here: one binding
        Binding("enter,space", "toggle_node", "Fold / unfold", show=False, id="tree.fold"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__("loading…", data=ROOT, **kwargs)
        self.guide_depth = 2
        self.model: Model | None = None
        self._tnodes: dict[str, TreeNode[str]] = {}
        self._vparent: dict[str, str] = {}
        self._populated: set[str] = set()
        self._styles: dict[str, Style] = {}
        self._reexpand: set[str] = set()  # expanded before a rebuild; expanded again after
        self._level: dict[str, int] = {}  # a line's indent in guides (the root's line is 0)
        self._fitted: dict[str, int] = {}  # the cells each line's label was made to fit
        self.frame = 0  # the spinner frame of running nodes
        self.reading = False  # the file is still being read: lines keep arriving below
        self._deferred: set[str] = set()  # containers whose lines wait for the end of the reading
        self._wants_last = False  # G was pressed while reading: the cursor goes there when it is read

    # -- labels -------------------------------------------------------------
    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.get_component_rich_style(f"action-tree--{name}", partial=True)
        return style

    def label_room(self, node_id: str, expandable: bool) -> int:
        """The cells a line's label has: the tree's width less the line's guides and fold icon, so
        a label follows the space the tree has (a resize or the detail pane's key changes it)."""
        width = self.scrollable_content_region.width or self.app.size.width // 2
        return width - self._level.get(node_id, 0) * self.guide_depth - (2 if expandable else 0)

    def label_for(self, node_id: str, expandable: bool | None = None) -> Text:
        assert self.model is not None
        if expandable is None:
            tnode = self._tnodes.get(node_id)
            expandable = tnode.allow_expand if tnode is not None else self._has_view_children(node_id)
        room = self.label_room(node_id, expandable)
        self._fitted[node_id] = room
        return build_label(self.model.nodes[node_id], self._style, width=room, frame=self.frame)

    def process_label(self, label) -> Text:
        # The default copies every label to cut it at its first line; ours are made one line.
        # A string is shown as it is, never read as markup (the first one, "loading…", made
        # rich load its emoji table: ~17 ms of the first frame).
        if isinstance(label, str):
            label = Text(label)
        if "\n" not in label.plain:
            return label
        return super().process_label(label)

    def get_label_width(self, node: TreeNode[str]) -> int:
        # The default renders every label on each rebuild; the label is already a Text.
        return node._label.cell_len + (2 if node._allow_expand else 0)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        if self._styles:
            self._styles.clear()
            self.relabel_all()

    def relabel_all(self) -> None:
        """Labels are made again with the new styles as their lines are drawn (a theme change
        on a tree of thousands of lines must not rebuild every label at once)."""
        self._fitted.clear()
        self._clear_line_cache()
        self.refresh()

    def render_label(self, node: TreeNode[str], base_style: Style, style: Style) -> Text:
        # Only lines drawn get here (Textual caches each by width): a label is fitted again when
        # the styles changed or the cells its line has did, never for lines off screen.
        node_id = node.data
        if (
            self.model is not None
            and node_id in self.model.nodes
            and self._fitted.get(node_id) != self.label_room(node_id, node._allow_expand)
        ):
            node._label = self.label_for(node_id, node._allow_expand)
        return super().render_label(node, base_style, style)

    def refresh_node(self, node_id: str) -> None:
        """A node's score or status changed: relabel it if it is on screen."""
        tnode = self._tnodes.get(node_id)
        # A line without a fitted label has not been drawn since it was made or restyled: it is
        # labelled when drawn (a file read in parts changes thousands of lines nobody sees).
        if tnode is not None and node_id in self._fitted:
            tnode.set_label(self.label_for(node_id))

    # -- the view rules -------------------------------------------------------
    def _is_head(self, node_id: str) -> bool:
        model = self.model
        return node_id == ROOT or model.n_children(model.nodes[node_id].parent) >= 2

    def view_children(self, node_id: str) -> list[str]:
        model = self.model
        children = model.children(node_id)
        if len(children) >= 2:
            return children
        if len(children) == 1 and self._is_head(node_id):
            chain = [children[0]]
            succ = model.graph.succ
            while len(succ[chain[-1]]) == 1:
                chain.append(next(iter(succ[chain[-1]])))
            return chain
        return []

    def _has_view_children(self, node_id: str) -> bool:
        n = self.model.n_children(node_id)
        return n >= 2 or (n == 1 and self._is_head(node_id))

    def view_parent(self, node_id: str) -> str:
        """The node whose TreeNode holds ``node_id``'s line."""
        known = self._vparent.get(node_id)
        if known is not None:
            return known
        model = self.model
        parent = model.nodes[node_id].parent
        while not (model.n_children(parent) >= 2 or self._is_head(parent)):
            parent = model.nodes[parent].parent
        return parent

    # -- building -----------------------------------------------------------
    def attach(self, model: Model, reading: bool = False) -> None:
        """Show a freshly folded tree (``reading``: its first part; the rest arrives as ``node_added``)."""
        self.reading = reading
        self._deferred.clear()
        self.model = model
        self.clear()
        self._tnodes = {ROOT: self.root}
        self._vparent.clear()
        self._populated.clear()
        self._level = {ROOT: 0}
        self._fitted.clear()
        self.root.data = ROOT
        self.root.set_label(self.label_for(ROOT))
        if len(model) < AUTO_EXPAND_BELOW and not reading:
            self._expand_everything()
        else:
            self._populate_sync(ROOT, limit=self._first_lines())
            self.root.expand()  # the rest of a large root: _on_tree_node_expanded
            self._open_first_path()
        self.move_cursor_to_line(0) if self.last_line >= 0 else None

    def _open_first_path(self) -> None:
        """Opens the first branch downwards, about a screenful of lines and no more."""
        node_id, lines = ROOT, self._first_lines()
        while len(self._tnodes) < lines:
            node_id = next((c for c in self.view_children(node_id) if self._has_view_children(c)), None)
            if node_id is None or node_id not in self._tnodes:
                return
            self._populate_sync(node_id, limit=lines)
            self._tnodes[node_id].expand()

    def _expand_everything(self) -> None:
        stack = [ROOT]
        while stack:
            node_id = stack.pop()
            self._populate_sync(node_id)
            self._tnodes[node_id].expand()
            stack.extend(c for c in self.view_children(node_id) if self._has_view_children(c))

    def _materialize(
        self, node_id: str, container: str, before: TreeNode | None = None, drawn_later: bool = False
    ) -> TreeNode[str]:
        has_children = self._has_view_children(node_id)
        parent = self._tnodes[container]
        self._level[node_id] = self._level.get(container, 0) + 1
        # Lines added in the background are below the screen: their label is made when first drawn
        # (render_label), so a chain of 100,000 steps does not make 100,000 labels nobody sees.
        label = _UNDRAWN if drawn_later else self.label_for(node_id, has_children)
        tnode = parent.add(label, data=node_id, allow_expand=has_children, before=before)
        self._tnodes[node_id] = tnode
        self._vparent[node_id] = container
        if not has_children:
            # Nothing to load: whatever arrives later shows at once.
            self._populated.add(node_id)
            tnode._expanded = True
        elif node_id in self._reexpand:
            self._reexpand.discard(node_id)
            self._populate_sync(node_id, limit=self._first_lines() if self.reading else None)
            tnode.expand()
        return tnode

    def _populate_sync(self, node_id: str, limit: int | None = None, drawn_later: bool = False) -> None:
        missing = [c for c in self.view_children(node_id) if c not in self._tnodes]
        for child in missing[:limit]:
            self._materialize(child, node_id, drawn_later=drawn_later)
        if limit is None or len(missing) <= limit:
            self._populated.add(node_id)

    async def _populate_rest(self, node_id: str) -> None:
        """Adds a large container's lines in chunks, yielding to the event loop between."""
        chunk, known, missing = CHUNK, -1, []
        while node_id not in self._populated and node_id in self._tnodes:
            if known != len(self.model):  # a chain is walked again only when the tree grew
                known = len(self.model)
                missing = [c for c in self.view_children(node_id) if c not in self._tnodes]
            else:
                missing = [c for c in missing if c not in self._tnodes]
            with self.growing():
                for child in missing[:chunk]:
                    self._materialize(child, node_id, drawn_later=True)
            if len(missing) <= chunk:
                self._populated.add(node_id)
            # Each chunk makes the widget list all its lines again: chunks that double keep
            # that to a few passes over a container of thousands of lines.
            chunk *= 2
            await asyncio.sleep(0)

    def _on_tree_node_expanded(self, event: Tree.NodeExpanded[str]) -> None:
        node_id = event.node.data
        if node_id is None or node_id in self._populated or self.model is None:
            return
        with self.growing():
            self._populate_sync(node_id, limit=self._first_lines())
        if node_id in self._populated:
            return
        if self.reading:  # its lines come as they scroll into view, or once the file is read
            self._leave_for_later(node_id)
        else:
            self.run_worker(self._populate_rest(node_id), group="populate")

    def _drop(self, tnode: TreeNode[str]) -> None:
        """Remove a TreeNode and forget it and everything under it."""
        stack = [tnode]
        while stack:
            current = stack.pop()
            if current.allow_expand and current.is_expanded:
                self._reexpand.add(current.data)
            self._tnodes.pop(current.data, None)
            self._vparent.pop(current.data, None)
            self._level.pop(current.data, None)
            self._fitted.pop(current.data, None)
            self._populated.discard(current.data)
            stack.extend(current.children)
        tnode.remove()

    def _on_idle(self, event) -> None:
        # Quitting, Tree's own idle handler (called after this one unless prevented) would build
        # the line list again for a frame nobody sees (100,000 lines: seconds).
        if not self.app.is_running:
            event.prevent_default()

    # -- navigation -------------------------------------------------------------
    def reveal(self, node_id: str) -> bool:
        """Materialize and expand what is needed to show ``node_id``, and put the cursor on it."""
        if self.model is None or node_id not in self.model.nodes:
            return False
        chain = [node_id]
        while chain[-1] != ROOT:
            chain.append(self.view_parent(chain[-1]))
        for container in reversed(chain[1:]):
            if container not in self._populated:
                self._populate_sync(container)
            self._tnodes[container].expand()
        self.select_id(node_id)
        return True

    def select_id(self, node_id: str) -> None:
        tnode = self._tnodes[node_id]
        _ = self.last_line  # rebuild the line index so the node's line is current
        self.move_cursor(tnode)
        self.scroll_to_node(tnode, animate=False)

    @property
    def cursor_id(self) -> str | None:
        node = self.cursor_node
        return node.data if node is not None else None

    def action_first_line(self) -> None:
        self.cursor_line = 0
        self.scroll_to_line(0, animate=False)

    def action_fold_or_parent(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.allow_expand and node.is_expanded:
            node.collapse()
        elif node.parent is not None:
            self.move_cursor(node.parent)

    def action_unfold_or_child(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.allow_expand and not node.is_expanded:
            node.expand()
        elif node.children:
            _ = self.last_line
            self.move_cursor(node.children[0])

    def sibling_branch(self, node_id: str, step: int) -> str | None:
        """The head of the previous/next branch beside the branch ``node_id`` is on."""
        model = self.model
        current = node_id
        while current != ROOT:
            parent = model.nodes[current].parent
            siblings = model.children(parent)
            if len(siblings) >= 2:
                index = siblings.index(current) + step
                if 0 <= index < len(siblings):
                    return siblings[index]
                return None
            current = parent
        return None
