"""An OpenAI-compatible chat server on 127.0.0.1 that plays a scripted model, for tests.

All model-facing tests send real HTTP requests to it through litellm.
"""

from tests.fake_llm.server import FakeLLM, Scripted, Solver, reply

__all__ = ["FakeLLM", "Scripted", "Solver", "reply"]
