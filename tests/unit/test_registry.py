"""The plug-in tables (engine/registry.py): a user's own scorer, strategy or policy by dotted path,
with no edit of trajscope; an importer as one module and one table line; unknown names listing
the table; and what a name from elsewhere (a socket) may never do."""

from __future__ import annotations

import json
import shutil
import sys
import textwrap

import pytest

from trajscope.engine.events import read_events
from trajscope.engine.formats import IMPORTERS, FormatError, convert_data, load
from trajscope.engine.policy.base import PolicyError
from trajscope.engine.policy.factory import POLICIES, make_policy
from trajscope.engine.prm.base import ScorerError
from trajscope.engine.prm.heuristic import HeuristicScorer
from trajscope.engine.prm.registry import SCORERS, get_scorer
from trajscope.engine.registry import Registry
from trajscope.engine.search import STRATEGIES
from trajscope.engine.search.budget import Budget
from trajscope.engine.search.commands import PERSON_COMMANDS, Commands
from trajscope.engine.search.config import SearchConfig
from trajscope.engine.session import Session
from trajscope.engine.tree import ROOT
from tests.conftest import DEMO_RUN
from tests.support import SEMVER


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """Writes a module of the user's own, importable by name for this test only."""
    made = []

    def write(name: str, source: str) -> str:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        made.append(name)
        return name

    monkeypatch.syspath_prepend(str(tmp_path))
    yield write
    for name in made:
        sys.modules.pop(name, None)


SCORER = """
    class ConstantScorer:
        name = "constant"

        def __init__(self, device=None):
            self.device = device

        def score(self, steps):
            return [0.125 for _ in steps]
"""


def test_a_plugin_scorer_by_dotted_path_scores_a_run_through_the_command_line(tmp_path, plugin, capsys):
    from trajscope.tui.cli import main

    plugin("my_scorers", SCORER)
    run = tmp_path / "run.jsonl"
    shutil.copy(DEMO_RUN, run)
    assert get_scorer("my_scorers:ConstantScorer", device="cpu").device == "cpu"  # it asked for the device
    assert get_scorer("my_scorers.ConstantScorer").name == "constant"  # module.Class works too
    out = tmp_path / "scored.jsonl"
    assert main(["prm", "score", str(run), "--prm", "my_scorers:ConstantScorer", "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    scores = [e for e in read_events(out) if e["type"] == "node_scored" and e["scorer"] == "constant"]
    assert report["scorer"] == "constant" and len(scores) == report["scored"] > 5
    assert {e["score"] for e in scores} == {0.125}


STRATEGY = """
    from trajscope.engine.search.linear import Sample


    class Critiqued(Sample):
        '''Two rollouts, then one expansion of the second step of the first, with its own prompt and pick.'''

        def __init__(self, config, tree, prune=False):
            super().__init__(config, tree, prune)
            self.prompted, self.planned = [], False

        @property
        def width(self):
            return 2

        def next_jobs(self, search):
            from trajscope.engine.search.strategy import Job
            from trajscope.engine.tree import ROOT

            tree = search.tree
            if self.planned or search.busy or not tree.children(ROOT):
                return []
            self.planned = True
            first = tree.children(ROOT)[0]
            return [Job("expand", (tree.children(first) or [first])[0], n=4)]

        def expansion_prompt(self, tree, node_id):
            self.prompted.append(node_id)
            return "Try something else."

        def choose(self, session, parent, proposals):
            return len(proposals) - 1, {"method": "mine", "of": len(proposals)}
"""


def test_a_plugin_strategy_by_dotted_path_runs_a_search_and_owns_its_expansion(tmp_path, plugin):
    from trajscope.engine.policy.demo import DemoPolicy

    plugin("my_strategies", STRATEGY)
    session = Session(
        SEMVER,
        DemoPolicy(seed=3),
        tmp_path / "run.jsonl",
        scorers=[HeuristicScorer()],
        budget=Budget(nodes=14),
        config=SearchConfig(strategy="my_strategies:Critiqued", max_depth=2),
        seed=3,
    )
    session.start()
    session.wait(120)
    session.close()
    tree, strategy = session.tree, session.strategy
    assert type(strategy).__name__ == "Critiqued" and len(tree.children(ROOT)) >= 2
    second = tree.children(tree.children(ROOT)[0])[0]
    assert strategy.prompted == [second]  # the expand job asked the strategy for its prompt
    heads = [n for n in tree.nodes.values() if n.extra.get("expanded_from") == second]
    assert len(heads) == 1 and heads[0].critic == {"method": "mine", "of": heads[0].critic["of"]}
    started = next(e for e in read_events(tmp_path / "run.jsonl") if e["type"] == "run_started")
    assert "my_strategies:Critiqued" in json.dumps(started)


def test_a_plugin_policy_by_dotted_path_gets_the_options_it_names(plugin):
    plugin(
        "my_policies",
        """
        class Fixed:
            name = "fixed"

            def __init__(self, seed, temperature):
                self.seed, self.temperature = seed, temperature

            def propose(self, context, n=1, temperature=None):
                return []
    """,
    )
    policy = make_policy("my_policies:Fixed", seed=7, temperature=0.3)
    assert (policy.name, policy.seed, policy.temperature) == ("fixed", 7, 0.3)


def test_an_importer_is_one_module_and_one_table_line(tmp_path, plugin, monkeypatch):
    plugin(
        "my_format",
        """
        from trajscope.engine.formats.builder import Importer, RunBuilder


        def looks_like(data):
            return isinstance(data, dict) and data.get("tool") == "toy"


        def convert(data, name):
            builder = RunBuilder(name, {"instance_id": name, "problem_statement": "toy"}, "toy")
            for command in data["commands"]:
                builder.turn(command, "", observation="ok")
            return builder.finish("submitted")


        IMPORTER = Importer("Toy", "no entry in `commands`", looks_like, convert)
    """,
    )
    monkeypatch.setitem(IMPORTERS, "toy", "my_format:IMPORTER")
    (tmp_path / "a.json").write_text(json.dumps({"tool": "toy", "commands": ["ls", "cat a.py"]}))
    (tmp_path / "empty.json").write_text(json.dumps({"tool": "toy", "commands": []}))
    loaded = load(tmp_path / "a.json")
    assert loaded.format == "toy" and sum(e["type"] == "node_added" for e in loaded.events) == 2
    with pytest.raises(
        FormatError,
        match=r"looks like a Toy file but holds no step to import "
        r"\(no entry in `commands`\)",
    ):
        load(tmp_path / "empty.json")


def test_unknown_names_list_the_table(tmp_path):
    """Each error names every entry of its table (so a new line shows up without a second list)."""
    with pytest.raises(ValueError, match="unknown strategy 'beam'") as strategy:
        SearchConfig(strategy="beam")
    with pytest.raises(ScorerError, match="unknown scorer 'oracle'") as scorer:
        get_scorer("oracle")
    with pytest.raises(PolicyError, match="unknown policy 'gpt4'") as policy:
        make_policy("gpt4")
    with pytest.raises(FormatError, match="not a format trajscope knows") as importer:
        convert_data({"hello": "world"}, "x")
    for table, caught in ((STRATEGIES, strategy), (SCORERS, scorer), (POLICIES, policy), (IMPORTERS, importer)):
        message = str(caught.value)
        assert all(name in message for name in table) and "\n" not in message, message
    assert "module:Scorer" in str(scorer.value)  # and how to name one's own


def test_search_help_lists_the_tables():
    from trajscope.tui.cli import build_parser

    parser = build_parser()
    search = parser._subparsers._group_actions[0].choices["search"]
    text = " ".join(search.format_help().split())
    assert all(name in text for name in [*STRATEGIES, *SCORERS, *POLICIES])


def test_a_plugin_that_cannot_be_imported_is_one_sentence(plugin):
    plugin("broken_scorer", "raise RuntimeError('no GPU here')\n")
    with pytest.raises(
        ScorerError,
        match=r"^the scorer 'broken_scorer:X' could not be imported: "
        r"RuntimeError: no GPU here$",
    ):
        get_scorer("broken_scorer:X")
    with pytest.raises(ScorerError, match=r"names nothing: module json has no Nope"):
        get_scorer("json:Nope")
    with pytest.raises(ScorerError, match=r"^the scorer 'json:dumps' cannot be made: .*missing 1 required"):
        get_scorer("json:dumps")
    with pytest.raises(ScorerError, match=r"^json:JSONDecoder is not a scorer: a scorer has a name and score"):
        get_scorer("json:JSONDecoder")
    with pytest.raises(ValueError, match=r"^json:JSONDecoder is not a strategy"):
        SearchConfig(strategy="json:JSONDecoder")


def test_the_table_loads_an_entry_only_when_it_is_asked_for(plugin):
    plugin("lazy_entry", "VALUE = 42\n")
    table = Registry("thing", {"lazy": "lazy_entry:VALUE", "with:<arg>": ("lazy_entry:VALUE", {"x": 1})})
    assert table.names() == "lazy or with:<arg>" and "lazy_entry" not in sys.modules
    assert table.resolve("lazy").obj == 42 and "lazy_entry" in sys.modules
    found = table.resolve("with:abc")
    assert (found.arg, found.options) == ("abc", {"x": 1})
    with pytest.raises(ValueError, match=r"^unknown thing 'with:': use lazy, with:<arg> or a class"):
        table.resolve("with:")
    with pytest.raises(ValueError, match=r"^unknown thing 'json:dumps': use lazy or with:<arg>$"):
        table.resolve("json:dumps", paths=False)  # a name read from a log or a socket is never imported


def test_the_person_commands_are_the_commands_class_and_the_worker_takes_no_other():
    from trajscope.engine.batch import worker as worker_module
    from trajscope.engine.batch.worker import SearchWorker

    public = {n for n in dir(Commands) if not n.startswith("_")}
    assert worker_module.PERSON_COMMANDS is PERSON_COMMANDS and PERSON_COMMANDS == public
    assert {"pause", "resample", "raise_budget"} <= PERSON_COMMANDS
    worker = SearchWorker({"name": "x", "task": "t"})
    try:
        assert worker.command("session", [], {}) == "session is not a command"
        assert worker.command("os:system", ["true"], {}) == "os:system is not a command"
    finally:
        shutil.rmtree(worker.dir, ignore_errors=True)
