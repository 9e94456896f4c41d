"""One place that turns command-line choices into a policy."""

from __future__ import annotations

from trajscope.engine.policy.base import Policy, PolicyError


def make_policy(model: str, api_base: str | None = None, api_key: str | None = None,
                temperature: float = 0.0, tool_mode: str = "auto", seed: int = 0,
                teacher: str | None = None, beta: float = 0.5, timeout: float = 120.0,
                pace: float = 0.0) -> Policy:
    """``demo`` is the demo policy; anything else is a litellm model string.

    ``pace`` slows the demo policy down to that many seconds a proposal (for live demos).
    With ``teacher``, a DAgger mixture of ``model`` (the student) and ``teacher``.
    Hosted models without an API key fail here, before any work starts.
    """
    def one(name: str) -> Policy:
        if name == "demo":
            from trajscope.engine.policy.demo import DemoPolicy

            return DemoPolicy(seed=seed, pace=pace)
        if "/" not in name:
            raise PolicyError(f"{name!r} is not a model string: use provider/model, e.g. openai/gpt-4o, "
                              "or demo for the demo policy")
        from trajscope.engine.policy.llm import LLMPolicy

        policy = LLMPolicy(name, api_base=api_base, api_key=api_key, temperature=temperature,
                           tool_mode=tool_mode, timeout=timeout)
        policy.check()
        return policy

    student = one(model)
    if teacher is None:
        return student
    from trajscope.engine.policy.mixture import MixturePolicy

    return MixturePolicy(student, one(teacher), beta=beta, seed=seed)
