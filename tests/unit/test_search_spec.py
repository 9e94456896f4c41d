"""The search spec: one typed record from the command line, a config file, a resumed log or a
batch's driver to the search, its JSON strict about what it reads and silent about secrets."""

from __future__ import annotations

import json

import pytest

from trajscope.engine.spec import SearchSpec, SpecError
from trajscope.tui.cli import build_parser
from trajscope.tui.cli.specs import given_options, spec_from_args
from tests.conftest import DEMO_TASKS

TASK = str(next(p for p in DEMO_TASKS if p.name == "semver-prerelease"))
KEY = "sk-test-0123456789abcdefXYZ"


def cli_spec(*argv: str, resume=None) -> SearchSpec:
    """The spec ``trajscope ARGV`` starts its search with (as main maps it)."""
    argv = [str(a) for a in argv]
    args = build_parser().parse_args(argv)
    args.given = given_options(build_parser(), argv)
    return spec_from_args(args, resume=resume)


def test_the_spec_goes_through_json_and_back_unchanged():
    spec = SearchSpec(
        strategy="dars+prune",
        prune_b=2,
        workers=2,
        max_cost=1.5,
        model="openai/gpt-4o",
        temperature=0.3,
        prm="heuristic,builtin",
        select="rtv",
        judge="openai/gpt-4o",
        pace=0.25,
        limits={"edit": 2, "append": 1, "create": 1, "submit": 1},
    )
    data = json.loads(json.dumps(spec.to_json()))
    assert data["version"] == 1
    assert SearchSpec.from_json(data) == spec


def test_the_api_key_stays_out_of_the_json_unless_a_worker_is_handed_it():
    spec = SearchSpec(api_key=KEY)
    assert "api_key" not in spec.to_json() and KEY not in json.dumps(spec.to_json())
    assert SearchSpec.from_json(spec.to_json(secrets=True)).api_key == KEY


@pytest.mark.parametrize(
    "data, words",
    [
        ({"max_nodez": 5}, "unknown setting 'max_nodez'"),
        ({"workers": "2"}, "workers must be int, not str '2'"),
        ({"max_cost": True}, "max_cost must be float or null"),
        ({"sandbox": "chroot"}, "sandbox must be one of auto, docker, local, none"),
        ({"critic": "oracle"}, "critic must be one of prm, llm, first"),
        ({"prune_m": 0}, "--prune-m must be at least 1, not 0"),
        ({"limits": {"edit": "many"}}, "limits.edit must be a whole number, at least 0, not 'many'"),
        ({"after": {"edit": [1]}}, "after.edit must be a list of kinds of step"),
        ({"max_time": float("nan")}, "--max-time must be a finite number"),
        ({"temperature": float("inf")}, "--temperature must be a finite number"),
        ({"max_time": -1}, "--max-time must be more than 0 seconds"),
        ({"timeout": 0}, "--timeout must be more than 0 seconds"),
        ({"pace": -1}, "--pace must be at least 0"),
        ({"refine_rounds": -3}, "--refine-rounds must be at least 0"),
        ({"max_depth": 0}, "--max-depth must be at least 1"),
        ({"beta": 7}, "--beta is a chance, between 0 and 1"),
        ({"workers": 10**9}, "--workers is at most 256"),
        ({"device": "bogus"}, "--device is cpu, cuda, cuda:N or mps"),
        ({"model": [[[[[[["deep"]]]]]]]}, "model must be str, not list [[[...]]]"),
        ({"strategy": "beam"}, "unknown strategy 'beam'"),
        ({"version": 2}, "version 2"),
        ([1, 2], "must be a mapping of settings"),
    ],
)
def test_a_bad_spec_is_one_sentence_naming_what_is_wrong(data, words):
    with pytest.raises(SpecError) as caught:
        SearchSpec.from_json(data, "the spec")
    message = str(caught.value)
    assert words in message and "\n" not in message


def test_the_strategy_part_is_what_strategies_read():
    spec = SearchSpec(strategy="prune", prune_m=4, temperature=0.2)
    config = spec.search_config()
    assert (config.strategy, config.prune_m) == ("prune", 4)
    assert config.expand_temperature == 0.8  # the policy's temperature is not the expansions'


def test_the_command_line_maps_onto_the_spec():
    spec = cli_spec("search", TASK, "--strategy", "sample", "--samples", "6", "--max-time", "30", "--prm", "none")
    assert (spec.strategy, spec.samples, spec.max_time, spec.scorer_names()) == ("sample", 6, 30.0, [])
    demo = cli_spec("demo")  # the demo's own defaults are the spec's
    assert (demo.strategy, demo.workers, demo.prune_b, demo.pace) == ("dars+prune", 2, 2, 0.25)


@pytest.mark.parametrize(
    "name, text",
    [
        ("search.toml", 'strategy = "sample"\nsamples = 7\nmax-nodes = 12\nworkers = 3\n[limits]\nedit = 2\n'),
        ("search.yaml", "strategy: sample\nsamples: 7\nmax-nodes: 12\nworkers: 3\nlimits: {edit: 2}\n"),
    ],
)
def test_a_config_file_sets_the_spec_and_the_command_line_beats_it(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    spec = cli_spec("search", TASK, "--config", path)
    assert (spec.strategy, spec.samples, spec.max_nodes, spec.workers) == ("sample", 7, 12, 3)
    assert spec.limits["edit"] == 2 and spec.limits["submit"] == 1
    spec = cli_spec("search", TASK, "--config", path, "--workers", "1", "--samples", "4")
    assert (spec.workers, spec.samples, spec.strategy) == (1, 4, "sample")  # given here: even the default's value


@pytest.mark.parametrize(
    "name, text, words",
    [
        ("bad.toml", "max_nodez = 5\n", "unknown setting 'max_nodez'"),
        ("bad.yaml", "workers: two\n", "workers must be int"),
        ("bad.toml", "workers = [\n", "is not valid TOML"),
        ("bad.yaml", "- 1\n- 2\n", "must hold a mapping"),
        ("bad.ini", "x=1\n", "a config file is TOML"),
    ],
)
def test_a_bad_config_file_is_one_sentence_and_exit_2(tmp_path, capsys, name, text, words):
    from trajscope.tui.cli import main

    path = tmp_path / name
    path.write_text(text)
    out = tmp_path / "run.jsonl"
    assert main(["search", TASK, "--config", str(path), "--headless", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1 and str(path) in err
    assert not out.exists()


def _log_with(tmp_path, spec: dict | None):
    from trajscope.engine.events import dumps, make_event

    config = {"strategy": "dars"} | ({"spec": spec} if spec is not None else {})
    log = tmp_path / "run.jsonl"
    log.write_bytes(dumps(make_event("run_started", "r", task={"instance_id": "t"}, config=config)) + b"\n")
    return log


def test_resume_takes_the_recorded_settings_and_says_what_the_command_line_changed(tmp_path, capsys):
    log = _log_with(tmp_path, SearchSpec(strategy="dars+prune", workers=2, prune_b=2, max_nodes=20).to_json())
    spec = cli_spec("search", TASK, "--resume", "--out", log, "--max-nodes", "40", resume=log)
    assert (spec.strategy, spec.workers, spec.prune_b, spec.max_nodes) == ("dars+prune", 2, 2, 40)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "max_nodes 40 (recorded 20)" in err and "workers" not in err


def test_a_log_from_before_the_spec_resumes_with_the_options_given(tmp_path, capsys):
    log = _log_with(tmp_path, None)
    spec = cli_spec("search", TASK, "--resume", "--out", log, "--workers", "3", resume=log)
    assert (spec.strategy, spec.workers) == ("dars", 3)
    assert capsys.readouterr().err == ""


def test_a_recorded_strategy_that_is_a_dotted_path_is_not_imported(tmp_path):
    log = _log_with(tmp_path, {"strategy": "tests.no_such_module:Evil"})
    with pytest.raises(SpecError, match="not one of trajscope's"):
        cli_spec("search", TASK, "--resume", "--out", log, resume=log)


@pytest.mark.parametrize("field", ["strategy", "prm", "model", "teacher", "judge"])
def test_a_log_cannot_name_code_to_import(tmp_path, monkeypatch, field):
    """A log may come from someone else: a plug-in it names by dotted path is refused, and the
    module is never imported (its import would run its code)."""
    (tmp_path / "planted_by_log.py").write_text(
        f"open({str(tmp_path / 'imported')!r}, 'w').close()\nclass Evil:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    log = _log_with(tmp_path, {field: "planted_by_log:Evil"})
    with pytest.raises(SpecError, match="not one of trajscope's"):
        cli_spec("search", TASK, "--resume", "--out", log, resume=log)
    assert not (tmp_path / "imported").exists()


def test_a_value_nested_past_recursion_is_still_one_sentence(tmp_path):
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(SpecError, match="model must be str, not list"):
        SearchSpec.from_json({"model": deep})
    with pytest.raises(SpecError, match="name a strategy that is not a string"):
        cli_spec(
            "search", TASK, "--resume", "--out", _log_with(tmp_path, {"strategy": ["x"]}), resume=tmp_path / "run.jsonl"
        )


def test_a_log_cannot_choose_to_run_unconfined(tmp_path):
    log = _log_with(tmp_path, {"sandbox": "none"})
    with pytest.raises(SpecError, match="unconfined"):
        cli_spec("search", TASK, "--resume", "--out", log, resume=log)
    assert cli_spec("search", TASK, "--resume", "--out", log, "--sandbox", "none", resume=log).sandbox == "none"
    assert cli_spec("search", TASK, "--resume", "--out", log, "--sandbox", "local", resume=log).sandbox == "local"


@pytest.mark.parametrize(
    "recorded, again",
    [
        (
            {"model": "openai/gpt-4o-mini", "api_base": "http://127.0.0.1:9/v1"},
            ["--model", "openai/gpt-4o-mini", "--api-base", "http://127.0.0.1:9/v1"],
        ),
        ({"teacher": "openai/gpt-4o"}, ["--teacher", "openai/gpt-4o"]),
        ({"prm": "vllm:http://127.0.0.1:9/v1?api_key_env=HOME"}, ["--prm", "heuristic"]),
        ({"prm": "hf:/tmp/somewhere"}, ["--prm", "hf:/tmp/somewhere"]),
    ],
)
def test_a_log_cannot_choose_where_keys_and_data_go(tmp_path, recorded, again):
    """A resumed log that names a model server would get the user's API key from the
    environment sent there: what it names must be named again to resume with it."""
    log = _log_with(tmp_path, recorded)
    with pytest.raises(SpecError, match="a log cannot choose the models, servers"):
        cli_spec("search", TASK, "--resume", "--out", log, resume=log)
    spec = cli_spec("search", TASK, "--resume", "--out", log, *again, resume=log)
    named = dict(zip(again[::2], again[1::2]))
    assert spec.prm == named.get("--prm", spec.prm) and spec.model == named.get("--model", spec.model)


def test_a_worker_given_a_bad_spec_fails_in_one_sentence(tmp_path):
    from tests.support import wait_until
    from trajscope.engine.batch.worker import SearchWorker

    worker = SearchWorker(
        {"name": "t", "task": TASK, "instance": None, "search": {"workerz": 2}, "log": str(tmp_path / "run.jsonl")}
    )
    try:
        worker.start()
        assert wait_until(lambda: worker.state == "failed", 10)
        assert "unknown setting 'workerz'" in worker.error and "\n" not in worker.error
    finally:
        worker.dispose()


def test_a_strategy_option_declared_on_the_config_is_a_spec_field_and_an_option(monkeypatch):
    """Adding a strategy option is its field (with a doc) and the strategy that reads it: the
    command line, the JSON and config files follow. Played on a config with one more field."""
    import argparse
    from dataclasses import dataclass, field

    from trajscope.engine.search import config
    from trajscope.tui.cli.specs import add_spec_options

    @dataclass
    class WithWidth(config.SearchConfig):
        beam_width: int = field(default=5, metadata={"doc": "beam: nodes kept a level"})

    monkeypatch.setattr(config, "SearchConfig", WithWidth)
    p = argparse.ArgumentParser()
    p.add_argument("--k", type=int, default=3)  # one the command line already has stays as it is
    add_spec_options(p)
    assert p.parse_args(["--beam-width", "8"]).beam_width == 8
    assert "--k" in p._option_string_actions and p.parse_args([]).config is None


def _subparser(name: str):
    import argparse

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def test_demo_help_shows_the_defaults_demo_runs():
    """`demo --help` said (default: dars) and no default for --workers or --prune-b while the
    demo runs dars+prune with 2 of each: the help reads the defaults the parser holds."""
    from trajscope.engine.spec import FIELDS
    from trajscope.tui.cli.demo import DEMO_SETTINGS

    demo = _subparser("demo")
    args = demo.parse_args([])
    assert DEMO_SETTINGS and all(getattr(spec_from_args(args), k) == v for k, v in DEMO_SETTINGS.items())
    formatter = demo._get_formatter()
    shown = {a.dest: formatter._expand_help(a) for a in demo._actions if a.dest in FIELDS and a.help}
    for name, value in DEMO_SETTINGS.items():
        assert shown[name].endswith(f"(default: {value})"), shown[name]
    for name, text in shown.items():  # no help names a default other than the one the run takes
        if "(default: %(default)s)" in _action(demo, name).help:
            assert text.endswith(f"(default: {getattr(args, name)})"), text
    assert "dars+prune)" in " ".join(demo.format_help().split())


def _action(parser, dest: str):
    return next(a for a in parser._actions if a.dest == dest)


def test_every_option_of_a_spec_field_has_the_field_doc_as_its_help():
    """One source: the spec's field docs (--temperature and --seed had no help at all)."""
    import argparse
    from dataclasses import MISSING

    from trajscope.engine.spec import FIELDS

    def parsers(parser):
        yield parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    yield from parsers(sub)

    seen = set()
    for parser in parsers(build_parser()):
        if "--config" not in parser._option_string_actions:  # a command that starts no search (prm --seed...)
            continue
        for action in parser._actions:
            if action.option_strings and action.dest in FIELDS:
                seen.add(action.dest)
                doc = FIELDS[action.dest].metadata.get("doc")
                assert doc and (action.help or "").startswith(doc.replace("%", "%%")), (action.dest, action.help)
    options = {name for name, f in FIELDS.items() if f.default is not MISSING and name != "pace"}
    assert options <= seen, options - seen  # every scalar field has an option somewhere (pace: demo's)


def test_every_config_field_has_a_doc_so_expand_temperature_is_an_option():
    from dataclasses import fields

    from trajscope.engine.search.config import SearchConfig

    assert all(f.metadata.get("doc") for f in fields(SearchConfig))
    assert "--expand-temperature" in _subparser("demo")._option_string_actions
    assert cli_spec("search", TASK, "--expand-temperature", "0.5").expand_temperature == 0.5
    assert cli_spec("search", TASK).expand_temperature == SearchConfig().expand_temperature


def test_a_bool_field_is_a_flag_pair_not_a_string_read_as_true(monkeypatch, capsys):
    """type=bool reads any non-empty string, "False" too, as True."""
    import argparse
    from dataclasses import dataclass, field

    from trajscope.engine.search import config
    from trajscope.tui.cli.specs import add_spec_options

    @dataclass
    class WithFlag(config.SearchConfig):
        verify_each: bool = field(default=True, metadata={"doc": "run the tests after every edit"})

    monkeypatch.setattr(config, "SearchConfig", WithFlag)
    p = argparse.ArgumentParser()
    add_spec_options(p)
    assert p.parse_args([]).verify_each is True
    assert p.parse_args(["--no-verify-each"]).verify_each is False
    assert p.parse_args(["--verify-each"]).verify_each is True
    with pytest.raises(SystemExit):
        p.parse_args(["--verify-each", "False"])
    assert "run the tests after every edit (default: True)" in " ".join(p.format_help().split())


def test_a_resume_records_its_settings_and_the_next_resume_takes_them(tmp_path):
    """A resume that raised the budget records it: resuming again without the option goes on with
    the raised one, not the first run's."""
    from trajscope.engine.launch import recorded_settings
    from trajscope.tui.cli import main

    log = tmp_path / "run.jsonl"
    common = ["--strategy", "sample", "--samples", "1", "--sandbox", "local", "--prm", "heuristic", "--headless"]
    assert main(["search", TASK, *common, "--max-nodes", "2", "--out", str(log)]) in (0, 1)
    assert recorded_settings(log)["max_nodes"] == 2
    assert main(["search", TASK, "--resume", *common, "--max-nodes", "4", "--out", str(log)]) in (0, 1)
    assert recorded_settings(log)["max_nodes"] == 4
    assert cli_spec("search", TASK, "--resume", "--out", log, resume=log).max_nodes == 4


def test_a_resumed_batch_goes_on_with_each_logs_recorded_settings(tmp_path, capsys):
    """``batch --resume``: each search takes the settings its own log recorded, the options given
    over them (said once for the batch); a search with no log yet starts with the options given."""
    from trajscope.tui.cli.batch import resumed_specs

    first = _log_with(tmp_path, SearchSpec(strategy="dars+prune", workers=2, max_nodes=20).to_json())
    argv = ["batch", TASK, "--out", str(tmp_path), "--resume", "--max-nodes", "40"]
    args = build_parser().parse_args(argv)
    args.given = given_options(build_parser(), argv)
    plain = SearchSpec().to_json(secrets=True)
    specs = [{"name": "a", "search": plain}, {"name": "b", "search": plain}]
    got = resumed_specs(args, specs, [first, tmp_path / "none-yet.jsonl"])
    assert (got[0]["search"]["strategy"], got[0]["search"]["workers"], got[0]["search"]["max_nodes"]) == (
        "dars+prune",
        2,
        40,
    )
    assert got[1]["search"] == plain
    assert capsys.readouterr().err.count("max_nodes 40 (recorded 20)") == 1
