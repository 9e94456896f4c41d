"""A policy over any model litellm can call (docs/architecture.md section 4).

Any model string litellm knows (``openai/...``, ``anthropic/...``,
``ollama/...``, ``hosted_vllm/...``) with an optional ``api_base``. Tools go
through function calling where the provider has it, else the text format (one
fenced bash block a turn). Retries with backoff on rate limits, timeouts,
connection errors and 5xx; what still fails raises PolicyError with the reason.
litellm is imported lazily (it takes seconds) and never fetches its price
table from the network.
"""

from __future__ import annotations

import json
import os
import random
import time
from functools import cache
from pathlib import Path
from string import Template

from trajscope.engine.actions import TOOLS, Action, ActionError, parse_text, parse_tool_call
from trajscope.engine.policy.base import Context, PolicyError, Proposal
from trajscope.engine.sandbox.base import cap_output

PROMPTS = Path(__file__).with_name("prompts")
OBSERVATION_CAP = 6_000
"""Characters of each earlier observation a prompt carries (head and tail)."""


@cache
def prompt(name: str) -> Template:
    return Template((PROMPTS / f"{name}.md").read_text(encoding="utf-8").strip())


def litellm():
    """The litellm module, imported on first use with its price table read locally."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm as module

    module.telemetry = False
    module.suppress_debug_info = True
    if not os.environ.get("LITELLM_LOG"):  # its INFO lines (one per call) would mix with a command's output
        import logging

        for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
            logging.getLogger(name).setLevel(logging.WARNING)
    return module


def _split(total: int, parts: int) -> list[int]:
    share, extra = divmod(total, parts)
    return [share + (1 if i < extra else 0) for i in range(parts)]


MAX_RETRY_AFTER = 120.0
"""Seconds the most a provider's Retry-After makes trajscope wait before one retry."""


def retry_after(exc: BaseException) -> float | None:
    """The wait a provider asked for with its answer (``Retry-After`` in seconds or as an
    HTTP date, or ``retry-after-ms``), at most MAX_RETRY_AFTER; None when it said nothing."""
    import email.utils

    headers = getattr(exc, "litellm_response_headers", None) or getattr(exc, "headers", None)
    if headers is None:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
    if not headers:
        return None
    try:
        lower = {str(k).lower(): str(v) for k, v in dict(headers).items()}
    except (TypeError, ValueError):
        return None
    wait = None
    if "retry-after-ms" in lower:
        try:
            wait = float(lower["retry-after-ms"]) / 1000
        except ValueError:
            pass
    if wait is None and "retry-after" in lower:
        value = lower["retry-after"].strip()
        try:
            wait = float(value)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
                wait = when.timestamp() - time.time()
            except (TypeError, ValueError, IndexError):
                return None
    if wait is None or wait != wait:
        return None
    return max(0.0, min(MAX_RETRY_AFTER, wait))


class LLMPolicy:
    """Proposes actions by asking a model through litellm."""

    def __init__(
        self,
        model: str,
        api_base: str | None = None,
        api_key: str | None = None,
        temperature: float = 0.0,
        tool_mode: str = "auto",
        max_retries: int = 4,
        backoff: float = 1.0,
        timeout: float = 120.0,
        format_retries: int = 2,
        observation_cap: int = OBSERVATION_CAP,
        max_tokens: int | None = None,
    ):
        if tool_mode not in ("auto", "tools", "text"):
            raise ValueError("tool_mode is auto, tools or text")
        self.model, self.api_base, self.api_key = model, api_base, api_key
        from trajscope.engine.redact import register

        register(api_key)
        self.temperature, self.tool_mode = temperature, tool_mode
        self.max_retries, self.backoff, self.timeout = max_retries, backoff, timeout
        self.format_retries, self.observation_cap, self.max_tokens = format_retries, observation_cap, max_tokens
        self.name = model
        self._params: list[str] | None = None
        self.calls = 0  # requests sent, retries included
        self.waited_s = 0.0  # seconds slept between retries

    # -- what the provider supports -------------------------------------------------
    def _supported(self) -> list[str]:
        if self._params is None:
            lm = litellm()
            try:
                _, provider, _, _ = lm.get_llm_provider(self.model, api_base=self.api_base)
                self._params = list(
                    lm.get_supported_openai_params(model=self.model, custom_llm_provider=provider) or []
                )
            except Exception:  # an unknown provider: assume the OpenAI parameters
                self._params = ["n", "tools", "temperature"]
        return self._params

    @property
    def uses_tools(self) -> bool:
        if self.tool_mode != "auto":
            return self.tool_mode == "tools"
        return "tools" in self._supported()

    def check(self) -> None:
        """PolicyError, before any call, when a hosted model has no API key."""
        if self.api_key or self.api_base:
            return
        lm = litellm()
        try:
            env = lm.validate_environment(model=self.model)
        except Exception:
            return
        missing = env.get("missing_keys") or []
        if not env.get("keys_in_environment") and missing:
            raise PolicyError(
                f"{self.model} needs {' and '.join(missing)} set in the environment "
                "(or --api-key, or --api-base for a local server)"
            )

    # -- prompts ------------------------------------------------------------------------
    def messages(self, context: Context) -> list[dict]:
        task = context.task
        repo_root = getattr(task, "workdir", "/repo")
        tools = prompt("tools_native" if self.uses_tools else "tools_text").template
        messages = [
            {
                "role": "system",
                "content": prompt("system").safe_substitute(repo_root=repo_root, tool_instructions=tools),
            },
            {
                "role": "user",
                "content": prompt("instance").safe_substitute(
                    repo=getattr(task, "repo", "") or "the project",
                    repo_root=repo_root,
                    problem_statement=getattr(task, "problem_statement", ""),
                ),
            },
        ]
        if context.transcript:  # an imported run's steps, as its own agent's conversation recorded them
            messages = [dict(m) for m in context.transcript]
        for i, step in enumerate(context.steps[context.covered :], start=context.covered):
            observation, _ = cap_output(step.observation or "(no output)", self.observation_cap)
            if step.exit_code not in (None, 0):
                observation = f"(exit code {step.exit_code})\n{observation}"
            if self.uses_tools:
                call = {
                    "id": f"call_{i}",
                    "type": "function",
                    "function": {
                        "name": step.action.tool,
                        "arguments": json.dumps(step.action.args, ensure_ascii=False),
                    },
                }
                messages.append({"role": "assistant", "content": step.thought or None, "tool_calls": [call]})
                messages.append({"role": "tool", "tool_call_id": f"call_{i}", "content": observation})
            else:
                command = "submit" if step.action.tool == "submit" else step.action.raw
                messages.append({"role": "assistant", "content": f"{step.thought}\n\n```bash\n{command}\n```".lstrip()})
                messages.append({"role": "user", "content": observation})
        if context.instructions:
            messages.append({"role": "user", "content": context.instructions})
        if context.hint:
            messages.append({"role": "user", "content": prompt("hint").safe_substitute(hint=context.hint)})
        return messages

    # -- calling ------------------------------------------------------------------------
    def _request(self, messages: list[dict], n: int, temperature: float, tools: bool | None = None):
        lm = litellm()
        kwargs = {
            "model": self.model,
            "messages": messages,
            "temperature": temperature,
            "timeout": self.timeout,
            "num_retries": 0,
            "max_retries": 0,
        }
        if self.api_base:
            kwargs["api_base"] = self.api_base
        key = self.api_key or (None if not self.api_base else os.environ.get("OPENAI_API_KEY") or "EMPTY")
        if key:
            kwargs["api_key"] = key
        if n > 1:
            kwargs["n"] = n
        if self.max_tokens:
            kwargs["max_tokens"] = self.max_tokens
        if self.uses_tools if tools is None else tools:
            kwargs["tools"] = TOOLS
        retryable = (
            lm.RateLimitError,
            lm.Timeout,
            lm.APIConnectionError,
            lm.InternalServerError,
            lm.ServiceUnavailableError,
        )
        for attempt in range(self.max_retries + 1):
            self.calls += 1
            try:
                return lm.completion(**kwargs)
            except lm.AuthenticationError:
                raise PolicyError(f"{self.model} refused the API key (authentication failed)") from None
            except lm.NotFoundError:
                raise PolicyError(f"{self.model} was not found at the provider") from None
            except lm.BadRequestError as exc:
                if self.tool_mode == "auto" and "tool" in str(exc).lower() and "tools" in kwargs:
                    self._params = [p for p in self._supported() if p != "tools"]  # text from now on
                    raise _UseText() from None
                raise PolicyError(f"{self.model} rejected the request: {_first_line(exc)}") from None
            except retryable as exc:
                if attempt == self.max_retries:
                    raise PolicyError(
                        f"{self.model} failed after {attempt + 1} attempts: {type(exc).__name__}: {_first_line(exc)}"
                    ) from None
                wait = retry_after(exc)  # the provider says when: honour it (bounded)
                if wait is None:
                    wait = min(30.0, self.backoff * 2**attempt) * (1 + random.random() / 4)
                self.waited_s += wait
                time.sleep(wait)
            except lm.APIError as exc:
                raise PolicyError(f"{self.model} failed: {_first_line(exc)}") from None
        raise AssertionError("unreachable")

    def ask(self, prompt: str, temperature: float = 0.0) -> str:
        """One plain question (no tools), the answer's text: for critics, judges and summaries."""
        response = self._request([{"role": "user", "content": prompt}], 1, temperature, tools=False)
        return response.choices[0].message.content or ""

    def ask_usage(self, prompt: str, temperature: float = 0.0) -> tuple[str, int, int]:
        """``ask``, with the tokens it used (in, out): for work that counts in a search's budget."""
        response = self._request([{"role": "user", "content": prompt}], 1, temperature, tools=False)
        usage = getattr(response, "usage", None)
        used_in, used_out = (int(getattr(usage, k, 0) or 0) for k in ("prompt_tokens", "completion_tokens"))
        return response.choices[0].message.content or "", used_in, used_out

    def _cost(self, response) -> float:
        try:
            return float(litellm().completion_cost(completion_response=response) or 0.0)
        except Exception:  # a model without a price in litellm's table costs 0
            return 0.0

    def _parse(self, message) -> tuple[str, Action]:
        content = (getattr(message, "content", None) or "").strip()
        calls = getattr(message, "tool_calls", None) or []
        if calls:
            function = calls[0].function
            return content, parse_tool_call(function.name, function.arguments)
        return parse_text(content)

    def _call(self, messages: list[dict], n: int, temperature: float) -> list[Proposal]:
        """Up to ``n`` proposals from one request (providers may return fewer choices)."""
        response = self._request(messages, n, temperature)
        usage = getattr(response, "usage", None)
        choices = list(response.choices or [])
        if not choices:
            raise PolicyError(f"{self.model} returned no choices")
        tin = _split(int(getattr(usage, "prompt_tokens", 0) or 0), len(choices))
        tout = _split(int(getattr(usage, "completion_tokens", 0) or 0), len(choices))
        cost = self._cost(response) / len(choices)
        proposals = []
        for i, choice in enumerate(choices[:n]):
            proposal = Proposal(Action("", {}), tokens_in=tin[i], tokens_out=tout[i], cost=cost, model=self.model)
            message = choice.message
            for attempt in range(self.format_retries + 1):
                try:
                    proposal.thought, proposal.action = self._parse(message)
                    break
                except ActionError as exc:
                    if attempt == self.format_retries:
                        raise PolicyError(f"{self.model} gave no valid action in {attempt + 1} tries: {exc}") from None
                    retry = [
                        *messages,
                        _as_dict(message),
                        {"role": "user", "content": prompt("format_error").safe_substitute(error=exc)},
                    ]
                    if getattr(message, "tool_calls", None):
                        retry[-1] = {
                            "role": "tool",
                            "tool_call_id": message.tool_calls[0].id,
                            "content": retry[-1]["content"],
                        }
                    again = self._request(retry, 1, temperature)
                    usage = getattr(again, "usage", None)
                    proposal.tokens_in += int(getattr(usage, "prompt_tokens", 0) or 0)
                    proposal.tokens_out += int(getattr(usage, "completion_tokens", 0) or 0)
                    proposal.cost += self._cost(again)
                    message = again.choices[0].message
            proposals.append(proposal)
        return proposals

    def propose(self, context: Context, n: int = 1, temperature: float | None = None) -> list[Proposal]:
        temperature = self.temperature if temperature is None else temperature
        proposals: list[Proposal] = []
        for _ in range(2):  # a second pass when the provider turned out to lack tool calling
            messages = self.messages(context)
            try:
                while len(proposals) < n:
                    want = n - len(proposals)
                    batch = want if "n" in self._supported() else 1
                    proposals += self._call(messages, batch, temperature)
                return proposals
            except _UseText:
                proposals.clear()
        raise PolicyError(f"{self.model} rejected both tool calls and the text format")


class _UseText(Exception):
    """The provider does not take tools; build the prompt again in the text format."""


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 300 else line[:299] + "…"


def _as_dict(message) -> dict:
    data = {"role": "assistant", "content": getattr(message, "content", None)}
    calls = getattr(message, "tool_calls", None)
    if calls:
        data["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.function.name, "arguments": c.function.arguments}}
            for c in calls
        ]
    return data
