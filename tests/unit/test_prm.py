"""Scorers: heuristic, builtin (shipped weights, CPU; CUDA when there is one), rubric judge, hf."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from trajscope.engine.actions import Action
from trajscope.engine.events import read_events
from trajscope.engine.policy.base import Step
from trajscope.engine.prm.base import NEUTRAL, ScorerError, StepContext, evaluate
from trajscope.engine.prm.registry import get_scorer
from trajscope.engine.prm.heuristic import HeuristicScorer
from trajscope.engine.prm.model import WEIGHTS, BuiltinScorer, load_weights
from trajscope.engine.prm.rubric import RubricScorer, parse_judgement
from trajscope.engine.tree import Tree
from tests.conftest import DEMO_RUN
from tests.fake_llm import FakeLLM, Scripted, reply

ISSUE = "divide(1, 0) raises ZeroDivisionError instead of returning None"
VIEW = Step(Action("view", {"path": "calc.py"}), "", "1\tdef divide(a, b):\n2\t    return a / b\n", 0)
EDIT = Step(
    Action("str_replace", {"path": "calc.py", "old": "return a / b", "new": "return None if b == 0 else a / b"}),
    "",
    "Edited calc.py.",
    0,
)
PASS = Step(Action("bash", {"command": "python -m pytest -q"}), "", "5 passed in 0.02s\n", 0)
FAIL = Step(Action("bash", {"command": "python -m pytest -q"}), "", "FAILED t.py::x\n1 failed, 4 passed\n", 1)
SUBMIT = Action("submit", {})


def ctx(*path: Step, action: Action = SUBMIT, observation: str | None = "diff", exit_code: int | None = 0):
    return StepContext(ISSUE, list(path), action, observation, exit_code, "demo__calc-1")


def test_heuristic_orders_paths_by_their_evidence():
    good = ctx(VIEW, EDIT, PASS)
    failing = ctx(VIEW, EDIT, FAIL)
    untested = ctx(VIEW, EDIT)
    empty = ctx(VIEW)
    (s_good, why), (s_fail, _), (s_untested, why_untested), (s_empty, _) = HeuristicScorer().explain(
        [good, failing, untested, empty]
    )
    assert s_good > s_untested > s_fail > s_empty
    assert "tests pass after the last edit" in why
    assert "without running anything after the edit" in why_untested


def test_heuristic_sees_repeats_and_errors():
    looping = ctx(VIEW, VIEW, VIEW, action=Action("view", {"path": "calc.py"}), observation=VIEW.observation)
    broken = ctx(
        VIEW,
        action=Action("bash", {"command": "python x.py"}),
        observation="Traceback (most recent call last):\nNameError",
        exit_code=1,
    )
    plain = ctx(action=Action("view", {"path": "calc.py"}), observation=VIEW.observation)
    s_loop, s_broken, s_plain = HeuristicScorer().score([looping, broken, plain])
    assert s_loop < s_plain and s_broken < s_plain


def test_a_failing_scorer_gives_neutral_scores_with_the_reason():
    class Broken:
        name = "broken"

        def score(self, steps):
            raise RuntimeError("out of memory")

    class Short:
        name = "short"

        def score(self, steps):
            return [0.9]

    assert evaluate(Broken(), [ctx(), ctx()]) == [(NEUTRAL, "broken failed: RuntimeError: out of memory")] * 2
    assert evaluate(Short(), [ctx(), ctx()])[0][0] == NEUTRAL
    assert evaluate(HeuristicScorer(), []) == []


def test_unknown_scorer_names_are_one_sentence():
    with pytest.raises(
        ScorerError,
        match=r"^unknown scorer 'magic': use builtin, heuristic, rubric:<model>, hf:<dir>, vllm:<url> or a class of your own as module:Scorer$",
    ):
        get_scorer("magic")


def test_builtin_loads_the_shipped_weights_offline_and_scores_on_cpu():
    assert WEIGHTS.stat().st_size < 20 * 1024 * 1024
    scorer = get_scorer("builtin", device="cpu")
    assert scorer.device.type == "cpu" and scorer.meta["held_out_tasks"]
    batch = [
        ctx(VIEW, EDIT, PASS),
        ctx(VIEW, EDIT, FAIL),
        ctx(VIEW, action=Action("view", {"path": "x"})),
        ctx(VIEW, EDIT, action=Action("bash", {"command": "ls"}), observation=None),
    ]
    together = scorer.score(batch)
    alone = [scorer.score([c])[0] for c in batch]
    assert all(0.0 <= s <= 1.0 for s in together)
    assert together == pytest.approx(alone, abs=1e-4)  # length bucketing and padding change nothing
    assert not any(p.requires_grad and p.grad is not None for p in scorer.model.parameters())


def test_damaged_or_missing_weights_are_a_clear_error(tmp_path):
    damaged = tmp_path / "builtin.pt"
    damaged.write_bytes(WEIGHTS.read_bytes()[:5000])
    with pytest.raises(ScorerError, match="are damaged or not trajscope weights"):
        load_weights(damaged)
    with pytest.raises(ScorerError, match="no PRM weights at"):
        BuiltinScorer(weights=tmp_path / "none.pt")


def test_builtin_on_cuda_matches_cpu():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU here: the GPU path is measured by `trajscope bench prm` where there is one")
    batch = [ctx(VIEW, EDIT, PASS), ctx(VIEW, EDIT, FAIL)]
    gpu = BuiltinScorer(device="cuda")
    assert gpu.half and next(gpu.model.parameters()).dtype == torch.float16
    assert gpu.score(batch) == pytest.approx(BuiltinScorer(device="cpu").score(batch), abs=2e-2)


@pytest.mark.parametrize(
    "text,score",
    [
        ('{"score": 0.8, "rationale": "validated"}', 0.8),
        ('Sure! ```json\n{"score": 7, "rationale": "ok"}\n```', 0.7),
        ("Score: 65%", 0.65),
        ("score = 3/10 because it loops", 0.3),
    ],
)
def test_judge_answers_are_parsed_defensively(text, score):
    assert parse_judgement(text)[0] == pytest.approx(score)


def test_a_garbage_judge_answer_gives_a_neutral_score_with_the_reason():
    score, why = parse_judgement("I cannot help with that.")
    assert score == NEUTRAL and why.startswith("judge answer unreadable")


def test_rubric_judge_through_litellm():
    answers = Scripted([reply(text='{"score": 0.9, "rationale": "ran the tests after the edit"}')])
    with FakeLLM(answers) as server:
        judge = RubricScorer("openai/judge", api_base=server.url, backoff=0.01)
        ((score, why),) = evaluate(judge, [ctx(VIEW, EDIT, PASS)])
    assert (score, why) == (0.9, "ran the tests after the edit")
    prompt = server.requests[0]["messages"][0]["content"]
    assert ISSUE in prompt and "Memory drift" in prompt and "5 passed" in prompt and "tools" not in server.requests[0]
    with FakeLLM(answers, faults=[500] * 10) as server:
        judge = RubricScorer("openai/judge", api_base=server.url, backoff=0.01, max_retries=1)
        ((score, why),) = evaluate(judge, [ctx(VIEW)])
    assert score == NEUTRAL and why.startswith("judge call failed, neutral score: openai/judge failed after 2")


@pytest.mark.slow
def test_hf_checkpoint_scores(tmp_path):
    transformers = pytest.importorskip("transformers", reason="the hf extra is not installed")
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {
        "[PAD]": 0,
        "[UNK]": 1,
        "[CLS]": 2,
        "[SEP]": 3,
        **{w: i + 4 for i, w in enumerate("the issue path step submit tests passed failed edit view".split())},
    }
    raw = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=raw, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]"
    )
    config = transformers.BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=2,
        max_position_embeddings=512,
    )
    torch.manual_seed(0)
    transformers.BertForSequenceClassification(config).save_pretrained(tmp_path / "tiny")
    tokenizer.save_pretrained(tmp_path / "tiny")
    scorer = get_scorer(f"hf:{tmp_path / 'tiny'}", device="cpu")
    scores = scorer.score([ctx(VIEW, EDIT, PASS), ctx(VIEW)])
    assert len(scores) == 2 and all(0 < s < 1 for s in scores)
    with pytest.raises(ScorerError, match="is not a transformers checkpoint"):
        get_scorer(f"hf:{tmp_path / 'nothing'}")


def test_prm_score_writes_node_scored_events(tmp_path):
    from trajscope.engine.prm.score import score_log

    run = tmp_path / "run.jsonl"
    shutil.copy(DEMO_RUN, run)
    before = run.read_bytes()
    copy = tmp_path / "scored.jsonl"
    counts = score_log(run, read_events(run), "heuristic", out=copy)
    assert run.read_bytes() == before  # the input is never written
    scored = [e for e in read_events(copy) if e["type"] == "node_scored" and e["scorer"] == "heuristic"]
    assert counts["scored"] == len(scored) > 5 and all(0 <= e["score"] <= 1 and e["rationale"] for e in scored)
    tree = Tree.fold(read_events(copy))
    assert all("heuristic" in tree.nodes[e["id"]].scores for e in scored)
    beside = score_log(run, read_events(run), "builtin")  # no --out: a new log beside the input
    assert beside["log"] == str(tmp_path / "run.scored.jsonl") and run.read_bytes() == before
    assert len(read_events(beside["log"])) == len(read_events(run)) + counts["scored"]


def test_prm_score_cli_errors_are_one_line(tmp_path):
    from tests.support import trajscope

    shutil.copy(DEMO_RUN, tmp_path / "run.jsonl")
    proc = trajscope("prm", "score", tmp_path / "run.jsonl", "--prm", "nope")
    assert proc.returncode == 2 and proc.stderr.startswith("trajscope: unknown scorer 'nope'")
    proc = trajscope("prm", "score", tmp_path / "run.jsonl", "--prm", "heuristic", "--out", tmp_path / "s.jsonl")
    assert proc.returncode == 0 and json.loads(proc.stdout)["scored"] > 5


def test_imported_steps_are_scored_from_what_they_printed(tmp_path, capsys):
    """SWE-agent and DARS steps record no exit code: a check that ran after the last edit was
    invisible ("the last edit has not been run" on every step); what it printed now counts."""
    from trajscope.engine.formats import load
    from trajscope.engine.prm.base import contexts
    from trajscope.engine.prm.data import examples_from_tree
    from trajscope.engine.formats.collection import apply_verdicts
    from trajscope.engine.tree import ROOT
    from trajscope.tui.cli import main
    from tests.conftest import REAL

    source = REAL / "swe-agent" / "marshmallow-1867.function_calling_replace.traj"
    loaded = load(source)
    tree = Tree.fold(loaded.events)
    ids = [n for n in tree.preorder() if n != ROOT]
    assert all(tree.nodes[n].exit_code is None for n in ids)
    explained = HeuristicScorer().explain(contexts(tree, ids))
    rerun = ids.index("9")  # `python reproduce.py` after the fix: it prints the right value
    assert "a check after the last edit passes" in explained[rerun][1]
    assert explained[rerun][0] > explained[rerun - 1][0]
    assert "has not been run" not in explained[-1][1]
    apply_verdicts(loaded.events, {"marshmallow-code__marshmallow-1867": True})
    assert len(examples_from_tree(Tree.fold(loaded.events))) == len(ids)  # training data from imports too
    assert main(["prm", "score", str(source), "--prm", "heuristic", "--out", str(tmp_path / "s.jsonl")]) == 0
    captured = capsys.readouterr()
    counts = json.loads(captured.out)
    assert counts["scored"] == counts["without_exit_code"] == len(ids)
    assert "record no exit code" in captured.err and "scored from what they printed" in captured.err


@pytest.mark.parametrize(
    ("action", "own", "others"),
    [
        ("score", ["--prm", "--out", "--device"], ["--epochs", "--demo-seeds", "--dataset", "--finetune"]),
        ("train", ["--epochs", "--from", "--dataset", "--device"], ["--prm", "--demo-seeds", "--sandbox"]),
        ("collect", ["--demo-seeds", "--sandbox", "--out", "--dataset"], ["--prm", "--epochs", "--device"]),
    ],
)
def test_each_prm_action_helps_with_its_own_options_only(action, own, others, capsys):
    from trajscope.tui.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["prm", action, "--help"])
    shown = capsys.readouterr().out
    assert f"trajscope prm {action}" in shown
    assert all(option in shown for option in own) and not any(option in shown for option in others)
