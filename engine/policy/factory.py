"""One place that turns command-line choices into a policy.

``POLICIES`` is the table of policies by name; a name with a ``/`` is a litellm model string
(provider/model), and any other name the table lacks is tried as a dotted path
(``mymodule:MyPolicy``), so a user's own policy plugs in.
"""

from __future__ import annotations

from trajscope.engine.policy.base import Policy, PolicyError
from trajscope.engine.registry import Registry

POLICIES = Registry(
    "policy",
    {
        "demo": "trajscope.engine.policy.demo:DemoPolicy",
    },
    PolicyError,
    other="a model as provider/model (e.g. openai/gpt-4o)",
)


def make_policy(
    model: str,
    api_base: str | None = None,
    api_key: str | None = None,
    temperature: float = 0.0,
    tool_mode: str = "auto",
    seed: int = 0,
    teacher: str | None = None,
    beta: float = 0.5,
    timeout: float = 120.0,
    pace: float = 0.0,
) -> Policy:
    """A policy of ``POLICIES`` (``demo``), a user's own by dotted path, or a litellm model string.

    ``pace`` slows the demo policy down to that many seconds a proposal (for live demos); a
    policy class gets those of the options it names as parameters.
    With ``teacher``, a DAgger mixture of ``model`` (the student) and ``teacher``.
    Hosted models without an API key fail here, before any work starts.
    """

    def one(name: str) -> Policy:
        if "/" not in name:  # a dotted path never holds one; every litellm model string does
            found = POLICIES.resolve(name)
            policy = POLICIES.make(
                found,
                seed=seed,
                pace=pace,
                temperature=temperature,
                api_base=api_base,
                api_key=api_key,
                tool_mode=tool_mode,
                timeout=timeout,
            )
            if not callable(getattr(policy, "propose", None)) or not isinstance(getattr(policy, "name", None), str):
                raise PolicyError(f"{name} is not a policy: a policy has a name and propose(context, n, temperature)")
            return policy
        from trajscope.engine.policy.llm import LLMPolicy

        policy = LLMPolicy(
            name, api_base=api_base, api_key=api_key, temperature=temperature, tool_mode=tool_mode, timeout=timeout
        )
        policy.check()
        return policy

    student = one(model)
    if teacher is None:
        return student
    from trajscope.engine.policy.mixture import MixturePolicy

    return MixturePolicy(student, one(teacher), beta=beta, seed=seed)
