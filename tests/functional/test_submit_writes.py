"""The submit screen's exports (``x``: the patch, ``w``: a predictions line) against a hostile
task id, links planted at the target names and a predictions file that is not one
(docs/security.md, "Files trajscope writes"), driven through Pilot."""

from __future__ import annotations

import orjson

from trajscope.engine.events import read_events, write_events
from tests.conftest import DEMO_RUN
from tests.functional.helpers import wait_for
from trajscope.tui.app import TrajscopeApp
from trajscope.tui.bridge import Source
from trajscope.tui.screens.submit import SubmitScreen

SIZE = (140, 40)
NODE = "14"  # a node of the demo run whose state has a patch


def run_of(tmp_path, instance_id: str):
    """The demo run, with the task's id replaced by ``instance_id``."""
    events = read_events(DEMO_RUN)
    events[0] = dict(events[0], task=dict(events[0]["task"], instance_id=instance_id))
    path = tmp_path / "run.jsonl"
    write_events(path, events)
    return path


async def press_on_submit(tmp_path, run, export_dir, *keys) -> list[str]:
    """Open the submit screen of NODE, press ``keys``; the notifications it gave."""
    app = TrajscopeApp(Source(run))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.screen.model is not None and not app.screen.tree.loading)
        app.push_screen(SubmitScreen(app.screen.model, NODE, export_dir=export_dir))
        await wait_for(pilot, lambda: isinstance(app.screen, SubmitScreen))
        for key in keys:
            await pilot.press(key)
            await pilot.pause(0.1)
        assert isinstance(app.screen, SubmitScreen)  # still there: nothing crashed it
        return [n.message for n in app._notifications]


async def test_x_names_the_patch_safely_from_a_hostile_instance_id(tmp_path):
    exports = tmp_path / "deep" / "exports"
    exports.mkdir(parents=True)
    run = run_of(tmp_path, "../../escaped")
    notes = await press_on_submit(tmp_path, run, exports, "x")
    written = list(exports.iterdir())
    assert len(written) == 1 and written[0].name.endswith(f".{NODE}.patch") and "patch written" in notes[-1]
    assert "+" in written[0].read_text()
    assert not list(tmp_path.glob("escaped*")) and not list((tmp_path / "deep").glob("escaped*"))


async def test_x_and_w_refuse_links_planted_at_their_names(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / f"demo__calc-divide.{NODE}.patch").symlink_to(victim)
    (exports / "predictions.jsonl").symlink_to(tmp_path / "dangling-target")
    notes = await press_on_submit(tmp_path, DEMO_RUN, exports, "x", "w")
    assert victim.read_text() == "precious\n" and not (tmp_path / "dangling-target").exists()
    assert all("symbolic link" in n and n.startswith("Nothing exported") for n in notes[-2:]), notes
    assert (exports / "predictions.jsonl").is_symlink()


async def test_w_on_a_file_with_a_line_that_is_not_a_prediction_says_so_and_keeps_it(tmp_path):
    exports = tmp_path / "exports"
    exports.mkdir()
    before = b'{"instance_id": "other", "model_name_or_path": "m", "model_patch": "p"}\n[1, 2, 3]\n'
    (exports / "predictions.jsonl").write_bytes(before)
    notes = await press_on_submit(tmp_path, DEMO_RUN, exports, "w")
    assert "line 2 is not a prediction" in notes[-1]
    assert (exports / "predictions.jsonl").read_bytes() == before


async def test_w_replaces_the_line_of_its_instance_and_keeps_the_others(tmp_path):
    exports = tmp_path / "exports"
    exports.mkdir()
    other = b'{"instance_id":"other","model_name_or_path":"m","model_patch":"p"}'
    mine = b'{"instance_id":"demo__calc-divide","model_name_or_path":"m","model_patch":"old"}'
    (exports / "predictions.jsonl").write_bytes(other + b"\nnot json at all\n" + mine + b"\n")
    await press_on_submit(tmp_path, DEMO_RUN, exports, "w")
    lines = (exports / "predictions.jsonl").read_bytes().splitlines()
    assert lines[:2] == [other, b"not json at all"] and len(lines) == 3
    written = orjson.loads(lines[2])
    assert written["instance_id"] == "demo__calc-divide" and written["model_patch"] != "old"
    assert not [p for p in exports.iterdir() if p.name.endswith(".tmp")]
