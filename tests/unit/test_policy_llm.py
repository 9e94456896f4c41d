"""LLMPolicy through litellm, over HTTP, against the fake model server."""

from __future__ import annotations

import time

import pytest

from trajscope.engine.actions import Action
from trajscope.engine.policy.base import Context, PolicyError, Step
from trajscope.engine.policy.llm import LLMPolicy
from trajscope.engine.tasks import Task
from tests.fake_llm import FakeLLM, Scripted, reply

TASK = Task("demo__x-1", "divide() crashes on zero", repo="demo/x", workdir="/repo")


def policy(server: FakeLLM, model: str = "openai/fake-model", **options) -> LLMPolicy:
    options.setdefault("backoff", 0.01)
    return LLMPolicy(model, api_base=server.url, **options)


def test_a_tool_call_becomes_an_action_with_tokens():
    with FakeLLM(Scripted([reply("view", "Let me read it.", path="calc.py"), reply("submit")])) as server:
        first = policy(server).propose(Context(TASK))[0]
        step = Step(first.action, first.thought, "1\tdef divide(a, b):", 0)
        second = policy(server).propose(Context(TASK, [step]))[0]
    assert (first.action.tool, first.action.args, first.thought) == ("view", {"path": "calc.py"}, "Let me read it.")
    assert first.tokens_in > 0 and first.tokens_out > 0 and first.cost == 0.0
    assert second.action.tool == "submit"
    request = server.requests[0]
    assert {t["function"]["name"] for t in request["tools"]} >= {"bash", "str_replace", "submit"}
    assert "Reproduce" in request["messages"][0]["content"]
    assert "divide() crashes on zero" in request["messages"][1]["content"]
    history = server.requests[1]["messages"]
    assert history[2]["tool_calls"][0]["function"]["name"] == "view"
    assert history[3] == {"role": "tool", "tool_call_id": "call_0", "content": "1\tdef divide(a, b):"}


def test_n_samples_come_from_one_request_where_the_provider_has_n():
    script = lambda request, index: reply("bash", command=f"echo {index}")  # noqa: E731
    with FakeLLM(script) as server:
        proposals = policy(server).propose(Context(TASK), n=3, temperature=0.8)
    assert [p.action.args["command"] for p in proposals] == ["echo 0", "echo 1", "echo 2"]
    assert len(server.requests) == 1 and server.requests[0]["n"] == 3
    assert server.requests[0]["temperature"] == 0.8


def test_missing_choices_are_made_up_with_more_calls():
    with FakeLLM(Scripted([reply("bash", command="ls")]), ignore_n=True) as server:
        proposals = policy(server).propose(Context(TASK), n=3)
    assert len(proposals) == 3 and len(server.requests) == 3


def test_text_format_for_models_without_tools():
    text = "I'll look around.\n```bash\nls -la\n```"
    with FakeLLM(Scripted([reply(text=text)])) as server:
        proposal = policy(server, tool_mode="text").propose(Context(TASK))[0]
        step = Step(proposal.action, proposal.thought, "total 0", 2)
        policy(server, tool_mode="text").propose(Context(TASK, [step]))
    assert (proposal.thought, proposal.action.args) == ("I'll look around.", {"command": "ls -la"})
    assert "tools" not in server.requests[0] and "```bash" in server.requests[0]["messages"][0]["content"]
    assert server.requests[1]["messages"][-1] == {"role": "user", "content": "(exit code 2)\ntotal 0"}


def test_a_provider_that_rejects_tools_is_asked_again_in_the_text_format():
    with FakeLLM(Scripted([reply(text="```bash\npwd\n```")]), reject_tools=True) as server:
        proposal = policy(server).propose(Context(TASK))[0]
    assert proposal.action.args == {"command": "pwd"}
    assert "tools" in server.requests[0] and "tools" not in server.requests[1]


def test_a_reply_without_an_action_is_sent_back_with_the_reason():
    with FakeLLM(Scripted([reply(text="Hmm, let me think."), reply("bash", command="ls")])) as server:
        proposal = policy(server).propose(Context(TASK))[0]
    assert proposal.action.args == {"command": "ls"} and len(server.requests) == 2
    assert "could not be run: your reply had no fenced" in server.requests[1]["messages"][-1]["content"]
    assert proposal.tokens_in > 0 and proposal.tokens_out > 0


def test_rate_limits_server_errors_and_timeouts_are_retried():
    with FakeLLM(Scripted([reply("submit")]), faults=[429, 500, "hang", 503], hang_s=2.0) as server:
        p = policy(server, timeout=0.5)
        proposal = p.propose(Context(TASK))[0]
    assert proposal.action.tool == "submit" and len(server.requests) == 5 and p.calls == 5


def test_a_call_that_keeps_failing_gives_the_reason():
    with FakeLLM(Scripted([reply("submit")]), faults=[503] * 10) as server:
        with pytest.raises(PolicyError, match=r"openai/fake-model failed after 3 attempts: .*503"):
            policy(server, max_retries=2).propose(Context(TASK))
    assert len(server.requests) == 3


def test_a_refused_key_is_one_sentence():
    with FakeLLM(Scripted([reply("submit")]), faults=[401]) as server:
        with pytest.raises(PolicyError, match=r"^openai/fake-model refused the API key \(authentication failed\)$"):
            policy(server).propose(Context(TASK))


def test_a_missing_api_key_for_a_hosted_model_is_one_sentence(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(PolicyError) as caught:
        LLMPolicy("anthropic/claude-3-5-sonnet-20240620").check()
    assert str(caught.value) == (
        "anthropic/claude-3-5-sonnet-20240620 needs ANTHROPIC_API_KEY set in the "
        "environment (or --api-key, or --api-base for a local server)"
    )
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    LLMPolicy("anthropic/claude-3-5-sonnet-20240620").check()


def test_known_models_are_priced_from_litellms_table():
    with FakeLLM(Scripted([reply("submit")])) as server:
        proposal = policy(server, model="openai/gpt-4o").propose(Context(TASK))[0]
    assert proposal.cost > 0


def test_long_observations_are_cut_and_hints_are_passed_on():
    long = "".join(f"line {i}\n" for i in range(20_000))
    step = Step(Action("bash", {"command": "cat big.log"}, "cat big.log"), "", long, 0)
    with FakeLLM(Scripted([reply("submit")])) as server:
        policy(server, observation_cap=2_000).propose(Context(TASK, [step], hint="look at calc.py"))
    messages = server.requests[0]["messages"]
    observation = messages[3]["content"]
    assert len(observation) < 2_200 and observation.startswith("line 0\n") and observation.endswith("line 19999\n")
    assert "characters omitted" in observation
    assert messages[-1]["content"] == "A person watching this run suggests: look at calc.py"


@pytest.mark.slow
def test_a_rate_limit_with_retry_after_is_waited_out_as_the_provider_asks():
    faults = [(429, "slow down", {"Retry-After": "1.5"}), (429, "slow down", {"retry-after-ms": "700"})]
    with FakeLLM(Scripted([reply("submit")]), faults=faults) as server:
        p = policy(server, backoff=0.01, max_retries=3)
        started = time.monotonic()
        proposal = p.propose(Context(TASK))[0]
        took = time.monotonic() - started
    assert proposal.action.tool == "submit" and p.calls == 3
    assert p.waited_s == pytest.approx(2.2, abs=0.01)  # 1.5 s, then 0.7 s: not the 0.01 s back-off
    assert took >= 2.2


def test_retry_after_is_bounded_and_read_in_every_form():
    from types import SimpleNamespace

    from trajscope.engine.policy.llm import MAX_RETRY_AFTER, retry_after

    assert retry_after(SimpleNamespace(litellm_response_headers={"Retry-After": "3"})) == 3
    assert retry_after(SimpleNamespace(litellm_response_headers={"retry-after": "99999"})) == MAX_RETRY_AFTER
    assert retry_after(SimpleNamespace(headers={"retry-after-ms": "250"})) == 0.25
    assert (
        retry_after(SimpleNamespace(response=SimpleNamespace(headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})))
        == 0
    )
    assert retry_after(SimpleNamespace(litellm_response_headers={"Retry-After": "soon"})) is None
    assert retry_after(Exception("no headers")) is None
