"""The settings file: a keymap that rebinds keys (and the help, the palette and the hints
that say so), a theme that --theme beats, and a bad file told in one sentence."""

from __future__ import annotations

import os
import re

import pytest

from tests.conftest import DEMO_RUN, ROOT
from tests.functional.helpers import wait_for
from trajscope.themes import THEME_NAMES
from trajscope.tui.app import TrajscopeApp
from trajscope.tui.bridge import Source
from trajscope.tui.cli import build_parser, main
from trajscope.tui.screens.help import HelpScreen
from trajscope.tui.settings import Settings, binding_ids, load_settings

SIZE = (140, 40)


@pytest.fixture
def settings_file(tmp_path, monkeypatch):
    """Write a settings file and point TRAJSCOPE_SETTINGS at it."""
    path = tmp_path / "settings.toml"

    def write(text: str):
        path.write_text(text, encoding="utf-8")
        monkeypatch.setenv("TRAJSCOPE_SETTINGS", str(path))
        return path

    return write


async def opened(pilot):
    await wait_for(pilot, lambda: pilot.app.screen.model is not None and not pilot.app.screen.tree.loading)
    return pilot.app.screen


async def test_a_rebound_key_acts_the_old_one_does_not_and_the_help_says_so(settings_file):
    settings_file('[keymap]\n"explorer.best_leaf" = "B"\nexplorer.search = "ctrl+f"\n')
    app = TrajscopeApp(Source(DEMO_RUN))
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        assert screen.tree.cursor_id == "root"
        await pilot.press("b")  # the default key no longer moves to the best leaf
        await pilot.pause(0.2)
        assert screen.tree.cursor_id == "root"
        await pilot.press("B")
        await wait_for(pilot, lambda: screen.tree.cursor_id == "6")
        await pilot.press("n")  # next match with no search: the hint names the rebound key
        await wait_for(pilot, lambda: any("No search yet" in n.message for n in app._notifications))
        hint = next(n.message for n in app._notifications if "No search yet" in n.message)
        assert hint == "No search yet: press ^f to search."
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        rows = dict((d, k) for k, d in app.screen.rows)
        assert rows["Best leaf"] == "B" and rows["Search"] == "^f"
        assert rows["Go to node"] == "g"  # what the file leaves alone keeps its key


async def test_the_help_lists_what_a_key_runs_once_the_tree_s_keys_are_rebound(settings_file):
    """Rebinding a key the tree took from Textual's Tree leaves the old key to what Textual looks
    up next (enter: the screen's fold), or to nothing (space, left, end): the help says that,
    not the Tree's "Select" or the containers' "Scroll Left"/"Scroll End"."""
    settings_file('[keymap]\n"tree.fold" = "z"\n"tree.left" = "h"\n"tree.last" = "G"\n')
    app = TrajscopeApp(Source(DEMO_RUN))
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        rows = app.screen.rows
        keys = [k for keys, _ in rows for k in keys.split(", ")]
        assert len(keys) == len(set(keys)), rows
        assert ("z", "Fold / unfold") in rows and ("⏎", "Fold / unfold") in rows  # the tree's, the screen's
        assert ("h", "Fold / parent") in rows and ("G", "Last line") in rows
        assert not {"space", "←", "end"} & set(keys), rows
        assert not {"Select", "Toggle", "Scroll Left", "Scroll End"} & {d for _, d in rows}, rows


async def test_a_bad_file_is_one_sentence_on_stderr_and_on_screen_and_the_defaults_hold(settings_file, capsys):
    path = settings_file('theme = "trajscope-light"\n[keymap]\n"explorer.best_lef" = "B"\n')
    app = TrajscopeApp(Source(DEMO_RUN))
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "'explorer.best_lef'" in err
    assert "did you mean 'explorer.best_leaf'" in err and "Traceback" not in err
    assert app.settings == Settings() and app.theme == "trajscope-dark"  # not half of the file
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        assert any("explorer.best_lef" in n.message and n.severity == "error" for n in app._notifications)
        await pilot.press("b")
        await wait_for(pilot, lambda: screen.tree.cursor_id == "6")


def test_the_theme_comes_from_the_file_and_the_option_beats_it(settings_file, monkeypatch, capsys):
    monkeypatch.delenv("TRAJSCOPE_THEME", raising=False)
    assert TrajscopeApp(Source(DEMO_RUN)).theme == THEME_NAMES[0]
    settings_file('theme = "trajscope-light"\n')
    assert TrajscopeApp(Source(DEMO_RUN)).theme == "trajscope-light"
    args = build_parser().parse_args(["open", str(DEMO_RUN), "--theme", "trajscope-dark"])
    assert TrajscopeApp(Source(DEMO_RUN), theme=args.theme).theme == "trajscope-dark"
    monkeypatch.setenv("TRAJSCOPE_THEME", "nord")  # a name that is no theme of ours: said, and passed over
    assert TrajscopeApp(Source(DEMO_RUN)).theme == "trajscope-light"
    assert (
        capsys.readouterr().err
        == "trajscope: TRAJSCOPE_THEME='nord' is not one of trajscope-dark, trajscope-light; ignored\n"
    )


BAD = [
    ("[keymap\n", "is not valid TOML"),
    ('colour = "red"\n', "unknown setting 'colour'"),
    ('theme = "solarized"\n', "theme = 'solarized' is not one of trajscope-dark, trajscope-light"),
    ("theme = 3\n", "theme = 3 is not one of"),
    ("keymap = 3\n", "keymap must be a table"),
    ('[keymap]\n"app.quit" = 5\n', "[keymap] app.quit must be a key string"),
    ('[keymap]\n"no.such" = "x"\n', "unknown binding id 'no.such'"),
    ('[keymap]\n"app.quit" = "ctrl+shft+q"\n', "'ctrl+shft+q' is not a key name"),
    ('[keymap]\n"explorer.goto" = "n"\n', "explorer.goto takes the key n, which explorer.next_match holds"),
]


@pytest.mark.parametrize("text, says", BAD, ids=[s.split("'")[0][:24] for _, s in BAD])
def test_each_bad_setting_is_named(settings_file, text, says):
    path = settings_file(text)
    settings, problem = load_settings(TrajscopeApp)
    assert settings == Settings()
    assert problem.startswith(str(path)) and says in problem and "\n" not in problem


def test_a_file_that_cannot_be_read_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAJSCOPE_SETTINGS", str(tmp_path / "missing.toml"))
    assert "missing.toml (named by TRAJSCOPE_SETTINGS) does not exist" in load_settings(TrajscopeApp)[1]
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)  # a read would wait for a writer forever
    monkeypatch.setenv("TRAJSCOPE_SETTINGS", str(fifo))
    assert load_settings(TrajscopeApp)[1] == f"{fifo} is not a regular file (a FIFO, a device or a socket)"
    (tmp_path / "latin.toml").write_bytes(b'theme = "\xe9"\n')
    monkeypatch.setenv("TRAJSCOPE_SETTINGS", str(tmp_path / "latin.toml"))
    assert load_settings(TrajscopeApp)[1] == f"{tmp_path / 'latin.toml'} is not UTF-8 text"


def test_the_default_place_follows_xdg_and_no_file_there_is_no_settings(tmp_path, monkeypatch):
    monkeypatch.delenv("TRAJSCOPE_SETTINGS")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert load_settings(TrajscopeApp) == (Settings(), None)
    (tmp_path / "trajscope").mkdir()
    (tmp_path / "trajscope" / "settings.toml").write_text('[keymap]\n"tree.down" = ["j", "down"]\n')
    assert load_settings(TrajscopeApp) == (Settings(keymap={"tree.down": "j,down"}), None)


def test_swapping_two_keys_and_an_unquoted_id_are_fine(settings_file):
    settings_file('[keymap]\nexplorer.goto = "n"\nexplorer.next_match = "g"\n"explorer.help" = "?,f1"\n')
    settings, problem = load_settings(TrajscopeApp)
    assert problem is None
    assert settings.keymap == {"explorer.goto": "n", "explorer.next_match": "g", "explorer.help": "question_mark,f1"}


def test_every_binding_id_in_the_code_can_be_rebound():
    """The ids a keymap may name are found by walking the screens and widgets; one declared
    anywhere else in the UI would be refused as unknown."""
    declared = set()
    for source in (ROOT / "tui").rglob("*.py"):
        declared |= set(re.findall(r'\bid="([a-z_]+\.[a-z_]+)"', source.read_text(encoding="utf-8")))
    assert len(declared) > 40 and declared == set(binding_ids(TrajscopeApp))


def test_the_settings_command_lists_ids_and_refuses_a_bad_file(settings_file, capsys):
    settings_file('[keymap]\n"app.quit" = "x"\n')
    assert main(["settings"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^app\.quit +x +Quit \(rebound\)$", out, re.M)
    assert re.search(r"^explorer\.goto +g +Go to node$", out, re.M)
    path = settings_file('[keymap]\n"app.qit" = "x"\n')
    assert main(["settings"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"trajscope: {path}: [keymap] names an unknown binding id 'app.qit'") and err.count("\n") == 1
    assert main(["settings", "--path"]) == 0 and capsys.readouterr().out == f"{path}\n"


def test_theme_names_live_in_one_place():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for command in ("open", "search", "demo", "run", "batch"):
        option = next(a for a in sub.choices[command]._actions if a.dest == "theme")
        assert tuple(option.choices) == THEME_NAMES
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    part = readme[readme.index("## Settings") :]
    part = part[: part.index("\n## ", 3)]
    assert set(re.findall(r"trajscope-[a-z]+", part)) == set(THEME_NAMES)


DEEP = [
    ("a = " + "[" * 5000 + "]" * 5000 + "\n", "is not a settings file: its values nest too deep to read"),
    ("[keymap]\n" + "a." * 3000 + 'b = "x"\n', "[keymap] a.a.a.a.a.a.a.... nests more than 8 dotted parts"),
]


@pytest.mark.parametrize("text, says", DEEP, ids=["nested-arrays", "dotted-id"])
def test_a_file_nested_thousands_deep_is_one_sentence_not_a_recursion_error(settings_file, capsys, text, says):
    path = settings_file(text)
    settings, problem = load_settings(TrajscopeApp)  # what the app's start reads
    assert settings == Settings() and problem.startswith(str(path)) and says in problem and "\n" not in problem
    assert main(["settings"]) == 2
    err = capsys.readouterr().err
    assert err == f"trajscope: {problem}\n"


def test_a_fifo_swapped_in_after_the_check_is_refused_not_waited_on(tmp_path, monkeypatch):
    """The file is opened once and checked on what was opened: a stat that saw a regular file
    says nothing about the FIFO a read would then block on."""
    import threading
    from pathlib import Path

    regular, fifo = tmp_path / "regular.toml", tmp_path / "swapped.toml"
    regular.write_text('theme = "x"\n')
    os.mkfifo(fifo)
    real_stat = Path.stat
    monkeypatch.setattr(Path, "stat", lambda self, *a, **k: real_stat(regular if self == fifo else self, *a, **k))
    monkeypatch.setenv("TRAJSCOPE_SETTINGS", str(fifo))
    said = []
    reader = threading.Thread(target=lambda: said.append(load_settings(TrajscopeApp)[1]), daemon=True)
    reader.start()
    reader.join(5)
    if reader.is_alive():  # a read blocked on the FIFO: give it a writer's end of file, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(5)
    assert said == [f"{fifo} is not a regular file (a FIFO, a device or a socket)"]
