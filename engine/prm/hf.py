"""``hf:<dir>``: a local transformers reward model (``pip install 'trajscope[hf]'``).

Three kinds of checkpoint are served, Qwen2/Llama-family and BERT-like alike: a
sequence-classification head (``*ForSequenceClassification``: one label, the sigmoid of its
logit; two or more, the probability of the last label, or of the label named by ``label=`` or
the preset), a token-classification head (``*ForTokenClassification``) read at the last token
of the input (or, with ``position=TOKEN``, at the last place that token stands: it is added
after the input when the rendering has not put it there), and, with ``preset=judge``, a
causal language model answering YES or NO (engine/prm/formats.py). A checkpoint of any other kind, or one whose head (or any weight) is
not in its files, is refused in one sentence: transformers would initialise the missing
weights at random and every score would be noise.

The input is what such checkpoints are trained on (the preset; by default the issue and the
steps as the user's turn, the candidate as the assistant's, through the tokenizer's chat
template when it has one); a template file (``$issue``, ``$steps``, ``$candidate``) can
replace that rendering. When the input is longer than the model's context (or
``max_length``), the oldest middle steps go first, with a marker saying how many; then the
end of the issue; the candidate step and the start of the issue are never dropped (only the
middle of an overlong candidate output is cut).

bf16 on a GPU that has it (else fp16), fp32 on the CPU; ``device_map="auto"`` spreads a model
that does not fit one GPU. Candidates are batched by length, all of a call in one pass when
they fit ``batch_size``; scores are cached by input, so a node is never scored twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import OrderedDict
from pathlib import Path
from string import Template

from trajscope.engine.prm.base import ScorerError, StepContext
from trajscope.engine.prm.features import clip
from trajscope.engine.prm.formats import MARKER, PRESETS, render, step_text
from trajscope.engine.prm.model import pick_device
from trajscope.engine.trace import Step

HEADS = {"ForSequenceClassification": "sequence", "ForTokenClassification": "token", "ForCausalLM": "generative"}
HEAD_MODULES = ("score", "classifier", "v_head", "value_head", "reward_head", "lm_head")
MAX_CONTEXT = 32768
CACHE_SIZE = 100_000
OPTIONS = ("max_length", "template", "batch_size", "device_map", "preset", "label", "position")


def split_options(spec: str, prefix: str, allowed=OPTIONS) -> tuple[str, dict[str, str]]:
    """``DIR?a=1&b=2`` -> ("DIR", {"a": "1", "b": "2"}); an unknown option is one sentence."""
    from urllib.parse import parse_qsl

    where, _, query = spec.partition("?")
    options = dict(parse_qsl(query)) if query else {}
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ScorerError(f"{prefix}{where}: unknown option {unknown[0]!r} ({', '.join(allowed)})")
    if options.get("preset", "default") not in PRESETS:
        raise ScorerError(f"{prefix}{where}: no preset {options['preset']!r} (presets: {', '.join(PRESETS)})")
    return where, options


def label_reader(config, preset, label: str | None, where: str) -> tuple[int | None, bool]:
    """(index of the label read, per-label sigmoid?) for a classification head; index None: the
    default rule (one label: its sigmoid; more: the softmax probability of the last)."""
    n = int(getattr(config, "num_labels", 1) or 1)
    sigmoid = preset.sigmoid or getattr(config, "problem_type", None) == "multi_label_classification"
    wanted = label or preset.label
    if wanted is None:
        named = [int(k) for k, v in (getattr(config, "id2label", None) or {}).items() if str(v).lower() == "success"]
        return (named[0], sigmoid) if sigmoid and named else (None, sigmoid)
    names = {str(v).lower(): int(k) for k, v in (getattr(config, "id2label", None) or {}).items()}
    if wanted.lstrip("-").isdigit():
        index = int(wanted)
    elif wanted.lower() in names:
        index = names[wanted.lower()]
    elif label is None and all(name.startswith("label_") for name in names):  # unnamed labels: the preset's place
        index = preset.label_index
    else:
        raise ScorerError(f"{where} has no label {wanted!r} (its labels: {', '.join(sorted(names)) or 'none'})")
    if not -n <= index < n:
        raise ScorerError(f"{where} has {n} label(s); label {wanted!r} is not one of them")
    return index % n, sigmoid


def shorten(step: Step, keep: int) -> Step:
    """``step`` in about ``keep`` characters: the middle of its output (then of its action) goes."""
    action = step.action.raw or step.action.tool
    a = min(len(action), max(keep // 4, keep - len(step.observation)))
    o = max(0, keep - a)
    return Step(
        dataclasses.replace(step.action, raw=clip(action, a // 2, a - a // 2)),
        clip(step.thought, 100, 100),
        clip(step.observation, o // 2, o - o // 2),
        step.exit_code,
    )


def fit(ctx: StepContext, limit: int, ids_of) -> list[int]:
    """The token ids of ``ctx`` within ``limit``, ``ids_of(issue, steps, dropped, candidate)``
    giving the ids of one rendering: the fewest oldest middle steps are left out first, then
    the end of the issue; the candidate and the start of the issue stay (only the middle of an
    overlong candidate is cut)."""
    steps = list(enumerate(ctx.path))
    last = ctx.steps[-1]
    candidate = (len(steps), Step(last.action, last.thought, ctx.observation or "", ctx.exit_code))
    issue = ctx.issue

    def fits(n_dropped: int, issue_text: str, cand: tuple[int, Step]) -> list[int] | None:
        ids = ids_of(issue_text, steps[n_dropped:], n_dropped, cand)
        return ids if len(ids) <= limit else None

    ids = fits(0, issue, candidate)
    if ids is not None:
        return ids
    if steps and fits(len(steps), issue, candidate) is not None:
        lo, hi = 1, len(steps)  # the fewest oldest steps to drop; dropping ``hi`` fits
        while lo < hi:
            mid = (lo + hi) // 2
            if fits(mid, issue, candidate) is not None:
                hi = mid
            else:
                lo = mid + 1
        return fits(hi, issue, candidate)
    # every step dropped and still too long: keep the start of the issue, as much as fits
    lo, hi, best = 0, len(issue), None
    while lo < hi:
        mid = (lo + hi + 1) // 2
        found = fits(len(steps), issue[:mid] + " ...", candidate)
        if found is not None:
            lo, best = mid, found
        else:
            hi = mid - 1
    if best is not None and lo >= min(200, len(issue)):
        return best
    # the candidate alone is too long: the start of the issue and the candidate's ends
    head = issue[: min(len(issue), 200)] + " ..."
    size = len(candidate[1].action.raw) + len(candidate[1].observation) + 200
    lo, hi, best = 0, size, None
    while lo < hi:
        mid = (lo + hi + 1) // 2
        found = fits(len(steps), head, (candidate[0], shorten(candidate[1], mid)))
        if found is not None:
            lo, best = mid, found
        else:
            hi = mid - 1
    if best is None:
        raise ValueError(f"max_length {limit} is too short for even the start of the issue and the step")
    return best


class HFScorer:
    def __init__(
        self,
        directory: str,
        device: str | None = None,
        batch_size: int = 16,
        max_length: int | None = None,
        template: str | None = None,
        device_map: str | None = None,
    ):
        directory, options = split_options(directory, "hf:")  # hf:DIR?max_length=4096&preset=judge
        try:
            max_length = int(options.get("max_length") or max_length or 0) or None
            batch_size = int(options.get("batch_size") or batch_size)
        except ValueError:
            raise ScorerError(f"hf:{directory}: max_length and batch_size are numbers") from None
        template = options.get("template") or template
        device_map = options.get("device_map") or device_map
        self.preset = PRESETS[options.get("preset", "default")]
        if template and not Path(template).is_file():
            raise ScorerError(f"hf:{directory}: no template file {template}")
        path = Path(directory).expanduser()
        if not (path / "config.json").is_file():
            raise ScorerError(f"hf:{directory} is not a transformers checkpoint (no config.json there)")
        try:
            import transformers
        except ImportError:
            raise ScorerError("hf: scorers need transformers: pip install 'trajscope[hf]'") from None
        import torch

        self.torch = torch
        self.name = f"hf:{directory}" + (f"?preset={self.preset.name}" if "preset" in options else "")
        try:
            config = transformers.AutoConfig.from_pretrained(path, local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable config is one sentence
            raise ScorerError(f"hf:{directory} has no readable config ({type(exc).__name__})") from None
        self.head = self._head_of(config, directory, self.preset)
        self.label, self.sigmoid = (
            (None, False)
            if self.head == "generative"
            else label_reader(config, self.preset, options.get("label"), f"hf:{directory}")
        )
        self.device = pick_device(device)
        dtype = torch.float32
        if self.device.type == "cuda":
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.dtype = dtype
        auto = {
            "sequence": transformers.AutoModelForSequenceClassification,
            "token": transformers.AutoModelForTokenClassification,
            "generative": transformers.AutoModelForCausalLM,
        }[self.head]
        new_api = tuple(int(p) for p in transformers.__version__.split(".")[:2] if p.isdigit()) >= (4, 56)
        load = {"local_files_only": True, "output_loading_info": True, ("dtype" if new_api else "torch_dtype"): dtype}
        if device_map and self.device.type == "cuda":
            load["device_map"] = device_map
        try:
            model, info = auto.from_pretrained(path, **load)
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
        except Exception as exc:  # noqa: BLE001
            raise ScorerError(
                f"hf:{directory} could not be loaded ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0][:200] if str(exc) else ''})"
            ) from None
        missing = [k for k in info.get("missing_keys") or [] if not k.endswith(("position_ids", "rotary_emb.inv_freq"))]
        if self.head == "generative" and getattr(config, "tie_word_embeddings", False):
            missing = [k for k in missing if not k.startswith("lm_head.")]  # tied to the embeddings
        if missing:
            head = [k for k in missing if k.split(".")[0] in HEAD_MODULES]
            what = "its reward head" if head else f"{len(missing)} of its weights"
            raise ScorerError(
                f"hf:{directory} lacks {what} ({missing[0]}, ...): transformers would start them at "
                "random and every score would be noise; give a checkpoint trained with that head"
            )
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
        model.config.pad_token_id = self.tokenizer.pad_token_id
        self.tokenizer.padding_side = "right"
        if "device_map" not in load:
            model.to(self.device)
        self.model = model.eval()
        self.input_device = next(model.parameters()).device
        if self.head == "generative":
            self.answer_ids = self._answer_ids(directory)
        context = getattr(config, "max_position_embeddings", None) or getattr(self.tokenizer, "model_max_length", 0)
        context = int(context) if context and context < 10**7 else MAX_CONTEXT
        self.max_length = min(int(max_length or context), context, MAX_CONTEXT)
        self.batch_size = max(1, batch_size)
        self.template = Template(Path(template).read_text(encoding="utf-8")) if template else None
        self.chat = bool(getattr(self.tokenizer, "chat_template", None)) and self.template is None
        self.position = self._position_of(options.get("position"), directory)
        self.cache: OrderedDict[str, float] = OrderedDict()
        self.forward_passes = 0

    @staticmethod
    def _head_of(config, directory: str, preset) -> str:
        found = None
        for arch in config.architectures or []:
            for suffix, head in HEADS.items():
                if arch.endswith(suffix):
                    found = found or head
        kind = (config.architectures or [getattr(config, "model_type", "unknown")])[0]
        if preset.head == "generative":
            if found != "generative":
                raise ScorerError(
                    f"hf:{directory} is a {kind} checkpoint: preset {preset.name} reads a YES/NO "
                    "answer from a causal language model (*ForCausalLM)"
                )
            return found
        if found == "generative":
            raise ScorerError(
                f"hf:{directory} is a {kind} checkpoint: trajscope reads rewards from a "
                "sequence-classification head, a token-classification head at the last token, or "
                "a YES/NO verifier's answer (?preset=judge)"
            )
        if found is None:
            raise ScorerError(
                f"hf:{directory} is a {kind} checkpoint: trajscope reads rewards from a "
                "sequence-classification head, or a token-classification head at the last token"
            )
        if preset.head and found != preset.head:
            raise ScorerError(
                f"hf:{directory} is a {kind} checkpoint: preset {preset.name} needs a {preset.head}-classification head"
            )
        return found

    def _answer_ids(self, directory: str) -> tuple[int, int]:
        """The first token of YES and of NO as the model would write them after the prompt."""
        ids = []
        for word in (self.preset.yes, self.preset.no):
            tokens = self.tokenizer(word, add_special_tokens=False)["input_ids"]
            if not tokens:
                raise ScorerError(f"hf:{directory}: its tokenizer writes {word!r} as no token")
            ids.append(tokens[0])
        if ids[0] == ids[1]:
            raise ScorerError(
                f"hf:{directory}: its tokenizer starts {self.preset.yes!r} and {self.preset.no!r} "
                "with the same token, so the answer cannot be read from one step"
            )
        return ids[0], ids[1]

    # -- the input ------------------------------------------------------------------------------
    def text(
        self, ctx: StepContext, issue: str, steps: list[tuple[int, Step]], dropped: int, candidate: tuple[int, Step]
    ) -> str:
        if self.template is not None:
            listed = ([MARKER.format(n=dropped)] if dropped else []) + [f"[{i + 1}] {step_text(s)}" for i, s in steps]
            return self.template.safe_substitute(
                issue=issue, steps="\n\n".join(listed) or "(none)", candidate=step_text(candidate[1])
            )
        return render(self.preset, self.tokenizer, self.chat, issue, steps, dropped, candidate, ctx.patch)

    def _position_of(self, token: str | None, directory: str) -> int | None:
        """The id of the token a token-classification head is read at (``position=``)."""
        if token is None:
            return None
        if self.head != "token":
            raise ScorerError(
                f"hf:{directory}: position= names where a token-classification head is read; "
                f"this checkpoint has a {self.head} head"
            )
        ids = self.tokenizer(token, add_special_tokens=False)["input_ids"]
        if len(ids) != 1 or (ids[0] == self.tokenizer.unk_token_id and token != self.tokenizer.unk_token):
            raise ScorerError(f"hf:{directory}: position={token} is not one token of its tokenizer ({len(ids)} tokens)")
        return ids[0]

    def _ids(self, text: str) -> list[int]:
        # a chat template writes its own special tokens
        return self.tokenizer(text, add_special_tokens=not self.chat)["input_ids"]

    def encode(self, ctx: StepContext) -> list[int]:
        """The token ids of ``ctx`` within ``max_length``: oldest middle steps first, then the
        end of the issue, then the middle of the candidate's output."""
        if self.position is None:
            return fit(ctx, self.max_length, lambda *parts: self._ids(self.text(ctx, *parts)))
        ids = fit(ctx, self.max_length - 1, lambda *parts: self._ids(self.text(ctx, *parts)))
        return ids if self.position in ids else ids + [self.position]

    # -- scoring --------------------------------------------------------------------------------
    def score(self, steps: list[StepContext]) -> list[float]:
        encoded = [self.encode(ctx) for ctx in steps]
        keys = [hashlib.sha1(json.dumps(ids).encode()).hexdigest() for ids in encoded]
        todo = sorted(
            {k: ids for k, ids in zip(keys, encoded) if k not in self.cache}.items(), key=lambda item: len(item[1])
        )
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start : start + self.batch_size]
            for (key, _), value in zip(chunk, self._forward([ids for _, ids in chunk])):
                self.cache[key] = value
                if len(self.cache) > CACHE_SIZE:
                    self.cache.popitem(last=False)
        return [self.cache[k] for k in keys]

    def _forward(self, batch: list[list[int]]) -> list[float]:
        torch = self.torch
        self.forward_passes += 1
        width = max(len(ids) for ids in batch)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids in batch], device=self.input_device)
        mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids in batch], device=self.input_device)
        last = mask.sum(dim=1) - 1
        if self.position is not None:  # the last place the named token stands (encode put it there)
            last = torch.tensor(
                [len(ids) - 1 - ids[::-1].index(self.position) for ids in batch], device=self.input_device
            )
        with torch.inference_mode():
            if self.head == "generative":  # the YES and NO logits of the next token, only those
                hidden = self.model.base_model(input_ids=input_ids, attention_mask=mask).last_hidden_state
                hidden = hidden[torch.arange(len(batch), device=hidden.device), last.to(hidden.device)]
                out = self.model.get_output_embeddings()
                rows = torch.tensor(self.answer_ids, device=out.weight.device)
                logits = hidden.to(out.weight.device) @ out.weight[rows].T
                if getattr(out, "bias", None) is not None:
                    logits = logits + out.bias[rows]
                return torch.softmax(logits.float(), dim=-1)[:, 0].tolist()
            logits = self.model(input_ids=input_ids, attention_mask=mask).logits.float()
        if self.head == "token":  # the reward at each input's last real token
            logits = logits[torch.arange(len(batch), device=logits.device), last.to(logits.device)]
        if self.label is not None:
            chosen = logits[:, self.label]
            return (torch.sigmoid(chosen) if self.sigmoid else torch.softmax(logits, dim=-1)[:, self.label]).tolist()
        if logits.shape[-1] == 1 or self.sigmoid:
            return torch.sigmoid(logits[:, -1]).tolist()
        return torch.softmax(logits, dim=-1)[:, -1].tolist()
