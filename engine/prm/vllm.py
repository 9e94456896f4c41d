"""``vllm:<url>``: a reward model served by vLLM (``vllm serve DIR --runner pooling``, or a
generative verifier served as usual), the way the published critics are served on GPUs.

    vllm:http://gpu-box:8000?tokenizer=/models/critic&preset=openhands-critic

The input is rendered and cut to the model's context here, exactly as ``hf:`` does (same
presets, same truncation; the checkpoint's tokenizer is read from the local ``tokenizer=``
directory, never downloaded), and sent as token ids, so the server scores the very tokens
``hf:`` would. Classification heads go to ``POST /classify`` (vLLM's classification API: the
probabilities the server computes; the preset's or ``label=``'s label, else the only one or
the last); ``preset=judge`` goes to ``POST /v1/completions`` for one token with its top
log-probabilities, and reads P(YES) / (P(YES) + P(NO)) from them (a word missing from the top
``logprobs`` counts as likely as the least likely one listed).

The model's name and context come from ``GET /v1/models`` unless ``model=``/``max_length=``
say; an API key is read from the environment variable named by ``api_key_env`` (default
``VLLM_API_KEY``), never from the scorer's name, which is recorded in the run log. Every
request has a deadline (``timeout``, 120 s) and a bounded answer; a server that fails scores
nothing (the search records the neutral score with the reason).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import urllib.error
import urllib.request
from collections import OrderedDict
from pathlib import Path

from trajscope.engine.prm.base import ScorerError, StepContext
from trajscope.engine.prm.formats import PRESETS, render
from trajscope.engine.prm.hf import CACHE_SIZE, MAX_CONTEXT, fit, split_options

OPTIONS = ("tokenizer", "model", "preset", "label", "max_length", "batch_size", "timeout", "api_key_env", "logprobs")
MAX_ANSWER = 64 * 1024 * 1024


class VLLMScorer:
    def __init__(self, spec: str, device: str | None = None):
        url, options = split_options(spec, "vllm:", OPTIONS)
        if not url.startswith(("http://", "https://")):
            raise ScorerError(f"vllm:{url}: give the server's address, e.g. vllm:http://127.0.0.1:8000?tokenizer=DIR")
        self.url = url.rstrip("/").removesuffix("/v1")
        self.preset = PRESETS[options.get("preset", "default")]
        self.name = f"vllm:{self.url}" + (f"?preset={self.preset.name}" if "preset" in options else "")
        try:
            self.timeout = float(options.get("timeout", 120))
            self.batch_size = max(1, int(options.get("batch_size", 32)))
            self.top = max(2, int(options.get("logprobs", 20)))
            max_length = int(options.get("max_length") or 0) or None
        except ValueError:
            raise ScorerError(f"vllm:{url}: timeout, batch_size, logprobs and max_length are numbers") from None
        self.key = os.environ.get(options.get("api_key_env", "VLLM_API_KEY"), "")
        tokenizer = options.get("tokenizer")
        if not tokenizer or not Path(tokenizer).expanduser().is_dir():
            raise ScorerError(
                f"vllm:{url}: tokenizer=DIR must name a local directory with the model's tokenizer "
                "(its chat template and the token count of each input are computed here)"
            )
        try:
            import transformers

            self.tokenizer = transformers.AutoTokenizer.from_pretrained(
                Path(tokenizer).expanduser(), local_files_only=True
            )
        except ImportError:
            raise ScorerError("vllm: needs transformers (for the tokenizer): pip install 'trajscope[hf]'") from None
        except Exception as exc:  # noqa: BLE001 - one sentence
            raise ScorerError(f"vllm:{url}: no tokenizer in {tokenizer} ({type(exc).__name__})") from None
        self.chat = bool(getattr(self.tokenizer, "chat_template", None))
        try:
            served = self._request("GET", "/v1/models", None)["data"][0]
        except (ScorerError, KeyError, IndexError, TypeError) as exc:
            raise ScorerError(f"vllm:{self.url}: no vLLM server answers there ({exc})") from None
        self.model = options.get("model") or str(served.get("id") or "")
        context = int(served.get("max_model_len") or MAX_CONTEXT)
        self.max_length = min(max_length or context, context)
        label = options.get("label")
        if label is not None and not label.lstrip("-").isdigit():
            raise ScorerError(f"vllm:{url}: label= is the label's number here (the server's answer names no labels)")
        self.label = int(label) if label is not None else self.preset.label_index
        if self.preset.head == "generative":  # the first token of each word, as hf: reads them
            firsts = [
                self.tokenizer(w, add_special_tokens=False)["input_ids"][:1] for w in (self.preset.yes, self.preset.no)
            ]
            self.words = tuple(self.tokenizer.decode(ids).strip() for ids in firsts)
            if not all(self.words) or self.words[0] == self.words[1]:
                raise ScorerError(
                    f"vllm:{url}: its tokenizer cannot tell {self.preset.yes} from {self.preset.no} "
                    "by their first token"
                )
        self.cache: OrderedDict[str, float] = OrderedDict()
        self.requests = 0

    def _request(self, method: str, path: str, body: dict | None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        self.requests = getattr(self, "requests", 0) + 1
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310 - the user's URL
                raw = answer.read(MAX_ANSWER + 1)
        except urllib.error.HTTPError as exc:
            detail = exc.read(2000).decode("utf-8", "replace").strip().replace("\n", " ")[:200]
            raise ScorerError(f"{path} answered {exc.code}{': ' + detail if detail else ''}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ScorerError(f"{path}: {getattr(exc, 'reason', exc)}") from None
        if len(raw) > MAX_ANSWER:
            raise ScorerError(f"{path} answered more than {MAX_ANSWER // 2**20} MiB")
        try:
            return json.loads(raw)
        except ValueError:
            raise ScorerError(f"{path} answered something that is not JSON") from None

    def encode(self, ctx: StepContext) -> list[int]:
        def ids_of(issue, steps, dropped, candidate):
            text = render(self.preset, self.tokenizer, self.chat, issue, steps, dropped, candidate, ctx.patch)
            return self.tokenizer(text, add_special_tokens=not self.chat)["input_ids"]

        return fit(ctx, self.max_length, ids_of)

    def score(self, steps: list[StepContext]) -> list[float]:
        encoded = [self.encode(ctx) for ctx in steps]
        keys = [hashlib.sha1(json.dumps(ids).encode()).hexdigest() for ids in encoded]
        todo = list({k: ids for k, ids in zip(keys, encoded) if k not in self.cache}.items())
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start : start + self.batch_size]
            values = self._judge(chunk) if self.preset.head == "generative" else self._classify(chunk)
            for (key, _), value in zip(chunk, values):
                self.cache[key] = value
                if len(self.cache) > CACHE_SIZE:
                    self.cache.popitem(last=False)
        return [self.cache[k] for k in keys]

    def _classify(self, chunk: list[tuple[str, list[int]]]) -> list[float]:
        answer = self._request("POST", "/classify", {"model": self.model, "input": [ids for _, ids in chunk]})
        rows = sorted(answer.get("data") or [], key=lambda row: row.get("index", 0))
        if len(rows) != len(chunk):
            raise ScorerError(f"/classify answered {len(rows)} results for {len(chunk)} inputs")
        out = []
        for row in rows:
            probs = [float(p) for p in row.get("probs") or []]
            if not probs:
                raise ScorerError("/classify answered a result without probabilities")
            if self.preset.sigmoid and len(probs) > 1 and abs(sum(probs) - 1) < 1e-4:
                # vLLM applies the activation its config names: without problem_type
                # multi_label_classification it is a softmax across the labels, and the label
                # read would be a share of the whole row, not that label's own probability
                raise ScorerError(
                    f"the server spread one softmax over all {len(probs)} labels of a multi-label "
                    "head: serve it with --hf-overrides "
                    '\'{"problem_type": "multi_label_classification"}\''
                )
            if self.label is None:
                out.append(probs[-1])
            elif -len(probs) <= self.label < len(probs):
                out.append(probs[self.label])
            else:
                raise ScorerError(f"the model has {len(probs)} label(s); label {self.label} is not one of them")
        return out

    def _judge(self, chunk: list[tuple[str, list[int]]]) -> list[float]:
        answer = self._request(
            "POST",
            "/v1/completions",
            {
                "model": self.model,
                "prompt": [ids for _, ids in chunk],
                "max_tokens": 1,
                "temperature": 0,
                "logprobs": self.top,
            },
        )
        choices = sorted(answer.get("choices") or [], key=lambda c: c.get("index", 0))
        if len(choices) != len(chunk):
            raise ScorerError(f"/v1/completions answered {len(choices)} choices for {len(chunk)} prompts")
        out = []
        for choice in choices:
            top = ((choice.get("logprobs") or {}).get("top_logprobs") or [None])[0]
            if not top:
                raise ScorerError("/v1/completions answered no top log-probabilities (is logprobs limited?)")
            listed = [(str(token).strip(), float(lp)) for token, lp in top.items() if lp is not None]
            found = [sum(math.exp(lp) for token, lp in listed if token == word) for word in self.words]
            if not any(found):
                raise ScorerError(
                    f"neither {self.words[0]} nor {self.words[1]} is among the answer's top {len(top)} tokens"
                )
            floor = math.exp(min(lp for _, lp in listed))  # what is not listed is at most this likely
            yes, no = (p or floor for p in found)
            out.append(yes / (yes + no))
        return out
