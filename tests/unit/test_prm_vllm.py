"""``vllm:<url>`` against a stand-in for ``vllm serve`` (tests/fake_vllm.py) serving the same
tiny checkpoints as ``hf:``: the scores agree with ``hf:`` on the same checkpoint, the server
sees token ids, and a missing server, a wrong key or a failing request is one sentence."""

from __future__ import annotations

import pytest

pytest.importorskip("transformers", reason="the hf extra is not installed")

from trajscope.engine.prm.base import ScorerError, evaluate  # noqa: E402
from trajscope.engine.prm.registry import get_scorer  # noqa: E402
from tests.fake_vllm import FakeVLLM  # noqa: E402
from tests.unit.test_prm_hf import checkpoint, patched  # noqa: E402


def test_a_served_critic_scores_as_the_same_checkpoint_loaded_here(tmp_path, monkeypatch):
    labels = ["success"] + [f"rubric_{i}" for i in range(25)]
    directory = checkpoint(
        tmp_path,
        "qwen2",
        "Sequence",
        labels=26,
        id2label=dict(enumerate(labels)),
        problem_type="multi_label_classification",
    )
    monkeypatch.setenv("CRITIC_KEY", "k-123")
    steps = [patched(1), patched(3), patched(2, out="failed exit code 1")]
    local = get_scorer(f"hf:{directory}?preset=openhands-critic", device="cpu").score(steps)
    with FakeVLLM(directory, api_key="k-123", max_model_len=256) as server:
        scorer = get_scorer(f"vllm:{server.url}?tokenizer={directory}&preset=openhands-critic&api_key_env=CRITIC_KEY")
        assert scorer.model == "critic" and scorer.max_length == 256 and "k-123" not in scorer.name
        assert scorer.score(steps) == pytest.approx(local, abs=1e-5)
        sent = server.requests[-1]
        assert sent["path"] == "/classify" and sent["model"] == "critic"
        assert sent["input"] == [scorer.encode(s) for s in steps]  # token ids, one request for the batch
        assert max(len(ids) for ids in sent["input"]) <= 256
        before = len(server.requests)
        scorer.score(steps[::-1])
        assert len(server.requests) == before  # cached
        server.faults.append(500)
        [(score, why)] = evaluate(scorer, [patched(5)])
        assert score == 0.5 and "/classify answered 500" in why
        server.multi = False  # served as vLLM does a config without problem_type: one softmax over the row
        [(score, why)] = evaluate(scorer, [patched(6)])
        assert score == 0.5 and "multi_label_classification" in why and "--hf-overrides" in why
        monkeypatch.setenv("CRITIC_KEY", "wrong")
        with pytest.raises(ScorerError, match=r"no vLLM server answers there \(/v1/models answered 401"):
            get_scorer(f"vllm:{server.url}?tokenizer={directory}&api_key_env=CRITIC_KEY")


def test_a_served_judge_reads_yes_against_no_from_the_top_logprobs(tmp_path):
    directory = checkpoint(tmp_path, "qwen2", "CausalLM", context=4096)
    steps = [patched(1), patched(3), patched(0, out="failed exit code 1")]
    local = get_scorer(f"hf:{directory}?preset=judge", device="cpu").score(steps)
    with FakeVLLM(directory, max_logprobs=1000) as server:  # every token listed: the exact answer
        scorer = get_scorer(f"vllm:{server.url}/v1?tokenizer={directory}&preset=judge&logprobs=1000")
        assert scorer.score(steps) == pytest.approx(local, abs=1e-4)
        assert server.requests[-1]["path"] == "/v1/completions" and server.requests[-1]["max_tokens"] == 1
        # with few logprobs one word may be missing: it counts as the least likely one listed
        narrow = get_scorer(f"vllm:{server.url}?tokenizer={directory}&preset=judge&logprobs=2")
        results = evaluate(narrow, steps)
        assert all(0 <= s <= 1 for s, _ in results)
        assert all(why is None or "top 2 tokens" in why for _, why in results)
    with FakeVLLM(directory) as server:  # vLLM's default limit
        [(score, why)] = evaluate(
            get_scorer(f"vllm:{server.url}?tokenizer={directory}&preset=judge&logprobs=50"), steps[:1]
        )
        assert score == 0.5 and "answered 400: " in why and "greater than max allowed: 20" in why


def test_bad_addresses_and_options_are_one_sentence(tmp_path):
    directory = checkpoint(tmp_path, "qwen2", "Sequence")
    with pytest.raises(ScorerError, match="give the server's address"):
        get_scorer(f"vllm:gpu-box?tokenizer={directory}")
    with pytest.raises(ScorerError, match="tokenizer=DIR must name a local directory"):
        get_scorer("vllm:http://127.0.0.1:9")
    with pytest.raises(ScorerError, match=r"no vLLM server answers there \(/v1/models: .*refused"):
        get_scorer(f"vllm:http://127.0.0.1:9?tokenizer={directory}&timeout=2")
    with pytest.raises(ScorerError, match="unknown option 'device_map'"):
        get_scorer(f"vllm:http://127.0.0.1:9?tokenizer={directory}&device_map=auto")
