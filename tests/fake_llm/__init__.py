"""An OpenAI-compatible chat server on 127.0.0.1 that plays a scripted model, for tests.

All model-facing tests send real HTTP requests to it through litellm. The
server lives in the package (``engine.policy.fake_server``) because the PRM
data collection and the search benchmark drive it too.
"""

from engine.policy.fake_server import FakeLLM, Scripted, Solver, reply

__all__ = ["FakeLLM", "Scripted", "Solver", "reply"]
