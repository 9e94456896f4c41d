"""``hf:<dir>`` reward models: tiny checkpoints made here (random weights; Qwen2, Llama and BERT
architectures; sequence- and token-classification heads; a byte-level tokenizer built offline
with a chat template). Nothing is downloaded."""

from __future__ import annotations

import json

import pytest

transformers = pytest.importorskip("transformers", reason="the hf extra is not installed")
torch = pytest.importorskip("torch")

from trajscope.engine.actions import Action  # noqa: E402
from trajscope.engine.prm.base import ScorerError, StepContext  # noqa: E402
from trajscope.engine.prm.registry import get_scorer  # noqa: E402
from trajscope.engine.trace import Step  # noqa: E402

CHAT = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
CORPUS = [
    "Issue: the version comparison is wrong for pre-releases",
    "python3 -m pytest -q tests",
    "str_replace semverlite/version.py",
    "Steps so far: view . search Version",
    "CANDIDATE ISSUESTART",
    "exit code 1 failed passed submit edit run",
    "<judgement>YES</judgement> <judgement>NO</judgement>",
    "[STEP] [ASSISTANT] [USER] [PATCH] diff --git a/x b/x +++ ---",
    "abcdefghijklmnopqrstuvwxyz 0123456789 ()[]{}<>=+-*/.,:;'\"",
]


def tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    raw = Tokenizer(models.BPE(unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<pad>", "<unk>", "<|end|>", "<|user|>", "<|assistant|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    raw.train_from_iterator(CORPUS * 20, trainer)
    tok = transformers.PreTrainedTokenizerFast(
        tokenizer_object=raw, pad_token="<pad>", unk_token="<unk>", eos_token="<|end|>"
    )
    tok.chat_template = CHAT
    return tok


def checkpoint(tmp_path, arch: str, head: str, chat: bool = True, labels: int = 1, context: int = 256, **extra):
    tok = tokenizer()
    common = dict(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=context,
        num_labels=labels,
        pad_token_id=tok.pad_token_id,
        **extra,
    )
    config = {"qwen2": transformers.Qwen2Config, "llama": transformers.LlamaConfig, "bert": transformers.BertConfig}[
        arch
    ](**common, **({"num_key_value_heads": 2} if arch != "bert" else {}))
    family = {"qwen2": "Qwen2", "llama": "Llama", "bert": "Bert"}[arch]
    cls = getattr(transformers, f"{family}ForCausalLM" if head == "CausalLM" else f"{family}For{head}Classification")
    torch.manual_seed(0)
    directory = tmp_path / f"{arch}-{head.lower()}"
    cls(config).save_pretrained(directory)
    if not chat:
        tok.chat_template = None
    tok.save_pretrained(directory)
    return directory


def ctx(n_steps: int = 2, issue: str = "ISSUESTART the version comparison is wrong", out: str = "ok") -> StepContext:
    path = [
        Step(Action("bash", {"command": f"ls {i}"}, raw=f"ls {i}"), "", f"file{i}.py\n" * 3, 0) for i in range(n_steps)
    ]
    return StepContext(
        issue, path, Action("bash", {"command": "pytest"}, raw="python3 -m pytest CANDIDATE"), out, 0, "t"
    )


@pytest.mark.parametrize(
    "arch,head",
    [("qwen2", "Sequence"), ("qwen2", "Token"), ("llama", "Sequence"), ("llama", "Token"), ("bert", "Sequence")],
)
def test_both_heads_of_each_family_score_and_batching_changes_nothing(tmp_path, arch, head):
    directory = checkpoint(tmp_path, arch, head, chat=arch != "bert")
    scorer = get_scorer(f"hf:{directory}", device="cpu")
    assert scorer.head == head.lower() and scorer.device.type == "cpu" and scorer.dtype == torch.float32
    steps = [ctx(1), ctx(4), ctx(2, out="failed exit code 1"), ctx(0)]
    together = scorer.score(steps)
    one_by_one = []
    for step in steps:
        scorer.cache.clear()
        one_by_one += scorer.score([step])
    assert all(0 < s < 1 for s in together)
    assert together == pytest.approx(one_by_one, abs=1e-5)


def test_the_input_is_the_chat_template_with_the_candidate_as_the_assistant_turn(tmp_path):
    scorer = get_scorer(f"hf:{checkpoint(tmp_path, 'qwen2', 'Token')}", device="cpu")
    text = scorer.tokenizer.decode(scorer.encode(ctx(2)))
    assert text.startswith("<|user|>\nIssue:\nISSUESTART")
    assert "<|assistant|>\npython3 -m pytest CANDIDATE" in text and text.rstrip().endswith("<|end|>")


def test_truncation_drops_the_oldest_middle_steps_never_the_candidate_or_the_issue_start(tmp_path):
    directory = checkpoint(tmp_path, "llama", "Sequence")
    scorer = get_scorer(f"hf:{directory}?max_length=200", device="cpu")
    long = ctx(40)
    ids = scorer.encode(long)
    text = scorer.tokenizer.decode(ids)
    assert len(ids) <= 200
    assert "ISSUESTART" in text and "CANDIDATE" in text  # checked on the ids the model gets
    assert "earlier step(s) left out" in text and "[40] ls 39" in text and "[1] ls 0" not in text
    # an issue too long for any step to fit: its start stays, its end goes
    huge = ctx(3, issue="ISSUESTART " + "the version comparison is wrong " * 200)
    text = scorer.tokenizer.decode(scorer.encode(huge))
    assert text.count("ISSUESTART") == 1 and "CANDIDATE" in text and len(scorer.encode(huge)) <= 200
    # a candidate whose output alone is too long: the candidate stays, the middle of its output goes
    loud = ctx(1, out="passed " * 2000)
    assert "CANDIDATE" in scorer.tokenizer.decode(scorer.encode(loud)) and len(scorer.encode(loud)) <= 200


def test_scores_are_cached_per_input(tmp_path):
    scorer = get_scorer(f"hf:{checkpoint(tmp_path, 'qwen2', 'Sequence')}", device="cpu")
    first = scorer.score([ctx(1), ctx(2)])
    passes = scorer.forward_passes
    assert scorer.score([ctx(2), ctx(1)]) == first[::-1] and scorer.forward_passes == passes
    scorer.score([ctx(3)])
    assert scorer.forward_passes == passes + 1


def test_a_template_file_replaces_the_rendering(tmp_path):
    template = tmp_path / "t.txt"
    template.write_text("PROBLEM $issue || HISTORY $steps || NEXT $candidate")
    directory = checkpoint(tmp_path, "qwen2", "Sequence")
    scorer = get_scorer(f"hf:{directory}?template={template}", device="cpu")
    text = scorer.tokenizer.decode(scorer.encode(ctx(1)))
    assert text.startswith("PROBLEM ISSUESTART") and "|| NEXT python3 -m pytest CANDIDATE" in text


def test_a_checkpoint_without_its_head_is_refused_not_served_at_random(tmp_path):
    tok = tokenizer()
    config = transformers.Qwen2Config(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        intermediate_size=64,
        max_position_embeddings=256,
    )
    body = tmp_path / "lm"
    transformers.Qwen2ForCausalLM(config).save_pretrained(body)
    tok.save_pretrained(body)
    with pytest.raises(ScorerError, match=r"is a Qwen2ForCausalLM checkpoint: trajscope reads rewards from"):
        get_scorer(f"hf:{body}", device="cpu")
    spec = json.loads((body / "config.json").read_text())
    spec["architectures"] = ["Qwen2ForTokenClassification"]  # says it has a head; its files do not
    (body / "config.json").write_text(json.dumps(spec))
    with pytest.raises(ScorerError, match=r"lacks its reward head \(score\..*every score would be noise"):
        get_scorer(f"hf:{body}", device="cpu")
    with pytest.raises(ScorerError, match="unknown option 'colour'"):
        get_scorer(f"hf:{body}?colour=red", device="cpu")


def patched(n_steps: int = 2, **kw) -> StepContext:
    step = ctx(n_steps, **kw)
    step.thought = "THOUGHT run the tests"
    step.patch = "diff --git a/x b/x\n+++ b/x\n+PATCHLINE"
    return step


def test_judge_preset_reads_yes_against_no_after_the_verifiers_interaction_log(tmp_path):
    directory = checkpoint(tmp_path, "qwen2", "CausalLM", context=4096)
    with pytest.raises(
        ScorerError, match=r"Qwen2ForCausalLM checkpoint: .*YES/NO verifier's answer \(\?preset=judge\)"
    ):
        get_scorer(f"hf:{directory}", device="cpu")
    scorer = get_scorer(f"hf:{directory}?preset=judge", device="cpu")
    assert scorer.head == "generative" and scorer.name.endswith("?preset=judge")
    ids = scorer.encode(patched(2))
    text = scorer.tokenizer.decode(ids)
    assert text.startswith("<|system|>\nYou are an expert judge") and text.endswith("<|assistant|>\n<judgement>")
    log = text[text.index("=== INTERACTION LOG ===") :]
    assert "Repository Issue:\nISSUESTART" in log and "[STEP]\n0\n[/STEP]\n\n[ASSISTANT]\nls 0\n[/ASSISTANT]" in log
    assert "[STEP]\n2\n[/STEP]\n\n[ASSISTANT]\nTHOUGHT run the tests\n\npython3 -m pytest CANDIDATE" in log
    assert "[PATCH]\ndiff --git a/x b/x\n+++ b/x\n+PATCHLINE\n[/PATCH]" in log
    # the score is P(YES) / (P(YES) + P(NO)) of the next token, as the full model computes it
    steps = [patched(1), patched(3), patched(0, out="failed exit code 1")]
    together = scorer.score(steps)
    yes, no = scorer.answer_ids
    for step, got in zip(steps, together):
        with torch.inference_mode():
            logits = scorer.model(input_ids=torch.tensor([scorer.encode(step)])).logits[0, -1]
        assert got == pytest.approx(torch.softmax(logits[[yes, no]], dim=-1)[0].item(), abs=1e-5)
    assert len(set(together)) == 3 and all(0 < s < 1 for s in together)
    # truncated, the question and the candidate stay
    short = get_scorer(f"hf:{directory}?preset=judge&max_length=1500", device="cpu")
    text = short.tokenizer.decode(short.encode(patched(30)))
    assert "earlier step(s) left out" in text and "CANDIDATE" in text and text.endswith("<judgement>")
    assert "[STEP]\n29\n[/STEP]" in text and "[STEP]\n0\n[/STEP]" not in text
    classifier = checkpoint(tmp_path, "qwen2", "Sequence")
    with pytest.raises(ScorerError, match="preset judge reads a YES/NO answer from a causal language model"):
        get_scorer(f"hf:{classifier}?preset=judge", device="cpu")


@pytest.mark.parametrize("named", [True, False])
def test_openhands_critic_preset_reads_the_success_label_of_a_multi_label_head(tmp_path, named):
    labels = ["success"] + [f"rubric_{i}" for i in range(25)] if named else [f"LABEL_{i}" for i in range(26)]
    directory = checkpoint(
        tmp_path,
        "qwen2",
        "Sequence",
        labels=26,
        id2label=dict(enumerate(labels)),
        problem_type="multi_label_classification",
    )
    scorer = get_scorer(f"hf:{directory}?preset=openhands-critic", device="cpu")
    assert (scorer.label, scorer.sigmoid) == (0, True)
    text = scorer.tokenizer.decode(scorer.encode(patched(2)))
    assert text.startswith("<|user|>\nISSUESTART") and "<|assistant|>\nls 0<|end|>\n<|tool|>\nfile0.py" in text
    assert text.endswith(
        "<|assistant|>\nTHOUGHT run the tests\n\npython3 -m pytest CANDIDATE<|end|>\n<|tool|>\nok<|end|>\n"
    )
    steps = [patched(1), patched(2, out="failed")]
    for step, got in zip(steps, scorer.score(steps)):
        with torch.inference_mode():
            logits = scorer.model(input_ids=torch.tensor([scorer.encode(step)])).logits[0]
        assert got == pytest.approx(torch.sigmoid(logits[0]).item(), abs=1e-5)
    # any checkpoint: a label by name or number
    other = get_scorer(f"hf:{directory}?label=25", device="cpu")
    assert other.label == 25 and other.sigmoid  # the config says multi-label
    if named:
        assert get_scorer(f"hf:{directory}?label=rubric_3", device="cpu").label == 4
        with pytest.raises(ScorerError, match="has no label 'resolved'"):
            get_scorer(f"hf:{directory}?label=resolved", device="cpu")
    with pytest.raises(ScorerError, match="no preset 'openhands'"):
        get_scorer(f"hf:{directory}?preset=openhands", device="cpu")


def test_a_token_head_is_read_at_a_named_position(tmp_path):
    directory = checkpoint(tmp_path, "qwen2", "Token", labels=2)
    steps = [ctx(1), ctx(3, out="failed exit code 1")]
    last = get_scorer(f"hf:{directory}", device="cpu")
    at = get_scorer(f"hf:{directory}?position=<|assistant|>", device="cpu")
    model = at.model
    for step, score in zip(steps, at.score(steps)):
        ids = at.encode(step)
        assert ids == last.encode(step)  # the chat template put the token there: nothing added
        where = len(ids) - 1 - ids[::-1].index(at.tokenizer.convert_tokens_to_ids("<|assistant|>"))
        assert 0 < where < len(ids) - 1
        with torch.inference_mode():
            logits = model(input_ids=torch.tensor([ids])).logits[0, where]
        assert score == pytest.approx(torch.softmax(logits, -1)[-1].item(), abs=1e-5)
    assert at.score(steps) != pytest.approx(last.score(steps), abs=1e-6)
    # a token the rendering does not hold goes after the input, within max_length
    tagged = get_scorer(f"hf:{directory}?position=<unk>&max_length=200", device="cpu")
    ids = tagged.encode(ctx(40))
    plain = get_scorer(f"hf:{directory}?max_length=199", device="cpu")
    assert len(ids) <= 200 and ids[-1] == tagged.tokenizer.unk_token_id and ids[:-1] == plain.encode(ctx(40))
    assert 0 < tagged.score([ctx(40)])[0] < 1
    with pytest.raises(ScorerError, match="is not one token"):
        get_scorer(f"hf:{directory}?position=two words", device="cpu")
    with pytest.raises(ScorerError, match="token-classification head"):
        get_scorer(f"hf:{checkpoint(tmp_path, 'llama', 'Sequence')}?position=<|end|>", device="cpu")
