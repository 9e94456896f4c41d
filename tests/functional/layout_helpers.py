"""What the screens look like at a given size: the text on screen, and a batch that holds still."""

from __future__ import annotations

import io

from rich.console import Console

from tests.conftest import DEMO_RUN, DEMO_TASKS
from tests.e2e.test_batch import specs
from trajscope.engine.batch.executors import LocalExecutor
from trajscope.engine.batch.fleet import Fleet
from trajscope.engine.events import read_events
from trajscope.engine.tree import Tree

STATES = ("finished", "running", "failed", "queued")
FINISHED_WHY = "the search reached its budget of 60 nodes after 4 submissions"
FAILED_WHY = "the sandbox could not start: bubblewrap is not installed (apt install bubblewrap)"


def screen_lines(app) -> list[str]:
    """The screen's rows as plain text, as a person reads them."""
    update = app.screen._compositor.render_update(full=True)
    console = Console(
        width=app.size.width,
        height=app.size.height,
        file=io.StringIO(),
        record=True,
        color_system=None,
        legacy_windows=False,
    )
    console.print(update, end="")
    return console.export_text().splitlines()


def still_fleet(tmp_path) -> Fleet:
    """A batch of the bundled tasks that never starts: each member is set to a state (finished with
    the demo run's tree, running, failed, queued) and the clock an hour back, so that every figure
    on the fleet screen is the same from one run to the next."""
    fleet = Fleet(specs({p.name for p in DEMO_TASKS}), LocalExecutor(2), tmp_path / "out", 2)
    fleet.started_s -= 3600.0
    tree = Tree.fold(read_events(DEMO_RUN))
    for index, member in enumerate(fleet.members):
        member.state = STATES[index % len(STATES)]
        if member.state == "finished":
            member.tree, member.reason = tree, FINISHED_WHY
            member.result = {"resolved": True, "verdict": "resolved"}
        elif member.state == "running":
            member.tree, member.node = tree, "15"
        elif member.state == "failed":
            member.reason = FAILED_WHY
    return fleet
