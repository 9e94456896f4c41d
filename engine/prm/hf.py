"""``hf:<dir>``: a local transformers reward model (``pip install 'trajscope[hf]'``).

Two kinds of reward head are served, for Qwen2/Llama-family and BERT-like checkpoints alike:
a sequence-classification head (``*ForSequenceClassification``: one label, the sigmoid of its
logit; two or more, the probability of the last label), or a token-classification head
(``*ForTokenClassification``) read at the last token of the input. A checkpoint of any other
kind, or one whose head (or any weight) is not in its files, is refused in one sentence:
transformers would initialise the missing weights at random and every score would be noise.

The input is what such checkpoints are trained on: the issue, the steps so far and the
candidate step, through the tokenizer's chat template when it has one (the issue and the
steps as the user's turn, the candidate as the assistant's), else as plain text; a template
file (``$issue``, ``$steps``, ``$candidate``) can replace that rendering. When the input is
longer than the model's context (or ``max_length``), the oldest middle steps go first, with a
marker saying how many; then the end of the issue; the candidate step and the start of the
issue are never dropped (only the middle of an overlong candidate output is cut).

bf16 on a GPU that has it (else fp16), fp32 on the CPU; ``device_map="auto"`` spreads a model
that does not fit one GPU. Candidates are batched by length, all of a call in one pass when
they fit ``batch_size``; scores are cached by input, so a node is never scored twice.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from pathlib import Path
from string import Template

from engine.prm.base import ScorerError, StepContext
from engine.prm.features import clip
from engine.prm.model import pick_device

HEADS = {"ForSequenceClassification": "sequence", "ForTokenClassification": "token"}
HEAD_MODULES = ("score", "classifier", "v_head", "value_head", "reward_head")
MAX_CONTEXT = 32768
CACHE_SIZE = 100_000
MARKER = "[... {n} earlier step(s) left out ...]"


def render_step(step, observation: str | None = None) -> str:
    obs = step.observation if observation is None else observation
    exit_note = "" if step.exit_code in (0, None) else f" (exit code {step.exit_code})"
    return f"{step.action.raw or step.action.tool}{exit_note}\n{obs or '(not run yet)'}"


class HFScorer:
    def __init__(self, directory: str, device: str | None = None, batch_size: int = 16,
                 max_length: int | None = None, template: str | None = None, device_map: str | None = None):
        directory, _, query = directory.partition("?")  # hf:DIR?max_length=4096&template=FILE&device_map=auto
        if query:
            from urllib.parse import parse_qsl

            options = dict(parse_qsl(query))
            unknown = set(options) - {"max_length", "template", "batch_size", "device_map"}
            if unknown:
                raise ScorerError(f"hf:{directory}: unknown option {sorted(unknown)[0]!r} (max_length, template, "
                                  "batch_size, device_map)")
            try:
                max_length = int(options.get("max_length") or max_length or 0) or None
                batch_size = int(options.get("batch_size") or batch_size)
            except ValueError:
                raise ScorerError(f"hf:{directory}: max_length and batch_size are numbers") from None
            template = options.get("template") or template
            device_map = options.get("device_map") or device_map
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

        self.name, self.torch = f"hf:{directory}", torch
        try:
            config = transformers.AutoConfig.from_pretrained(path, local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable config is one sentence
            raise ScorerError(f"hf:{directory} has no readable config ({type(exc).__name__})") from None
        self.head = self._head_of(config, directory)
        self.device = pick_device(device)
        dtype = torch.float32
        if self.device.type == "cuda":
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.dtype = dtype
        auto = (transformers.AutoModelForSequenceClassification if self.head == "sequence"
                else transformers.AutoModelForTokenClassification)
        options = {"local_files_only": True, "output_loading_info": True, "torch_dtype": dtype}
        if device_map and self.device.type == "cuda":
            options["device_map"] = device_map
        try:
            model, info = auto.from_pretrained(path, **options)
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
        except Exception as exc:  # noqa: BLE001
            raise ScorerError(f"hf:{directory} could not be loaded ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0][:200] if str(exc) else ''})") from None
        missing = [k for k in info.get("missing_keys") or [] if not k.endswith(("position_ids", "rotary_emb.inv_freq"))]
        if missing:
            head = [k for k in missing if k.split(".")[0] in HEAD_MODULES]
            what = "its reward head" if head else f"{len(missing)} of its weights"
            raise ScorerError(f"hf:{directory} lacks {what} ({missing[0]}, ...): transformers would start them at "
                              "random and every score would be noise; give a checkpoint trained with that head")
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
        model.config.pad_token_id = self.tokenizer.pad_token_id
        self.tokenizer.padding_side = "right"
        if "device_map" not in options:
            model.to(self.device)
        self.model = model.eval()
        self.input_device = next(model.parameters()).device
        context = getattr(config, "max_position_embeddings", None) or getattr(self.tokenizer, "model_max_length", 0)
        context = int(context) if context and context < 10**7 else MAX_CONTEXT
        self.max_length = min(int(max_length or context), context, MAX_CONTEXT)
        self.batch_size = max(1, batch_size)
        self.template = Template(Path(template).read_text(encoding="utf-8")) if template else None
        self.chat = bool(getattr(self.tokenizer, "chat_template", None)) and self.template is None
        self.cache: OrderedDict[str, float] = OrderedDict()
        self.forward_passes = 0

    @staticmethod
    def _head_of(config, directory: str) -> str:
        for arch in config.architectures or []:
            for suffix, head in HEADS.items():
                if arch.endswith(suffix):
                    return head
        kind = (config.architectures or [getattr(config, "model_type", "unknown")])[0]
        raise ScorerError(f"hf:{directory} is a {kind} checkpoint: trajscope reads rewards from a "
                          "sequence-classification head, or a token-classification head at the last token")

    # -- the input ------------------------------------------------------------------------------
    def text(self, ctx: StepContext, issue: str, steps: list[str], dropped: int, candidate: str) -> str:
        listed = ([MARKER.format(n=dropped)] if dropped else []) + steps
        steps_text = "\n\n".join(listed) or "(none)"
        if self.template is not None:
            return self.template.safe_substitute(issue=issue, steps=steps_text, candidate=candidate)
        if self.chat:
            messages = [{"role": "user", "content": f"Issue:\n{issue}\n\nSteps so far:\n{steps_text}"},
                        {"role": "assistant", "content": candidate}]
            return self.tokenizer.apply_chat_template(messages, tokenize=False)
        return f"Issue:\n{issue}\n\nSteps so far:\n{steps_text}\n\nCandidate step:\n{candidate}"

    def _ids(self, text: str) -> list[int]:
        # a chat template writes its own special tokens
        return self.tokenizer(text, add_special_tokens=not self.chat)["input_ids"]

    def encode(self, ctx: StepContext) -> list[int]:
        """The token ids of ``ctx`` within ``max_length``: oldest middle steps first, then the
        end of the issue, then the middle of the candidate's output."""
        steps = [f"[{i + 1}] {render_step(s)}" for i, s in enumerate(ctx.path)]
        last = ctx.steps[-1]
        candidate = render_step(last, ctx.observation or "(not run yet)")
        issue = ctx.issue
        limit = self.max_length

        def fits(n_dropped: int, issue_text: str, cand: str) -> list[int] | None:
            ids = self._ids(self.text(ctx, issue_text, steps[n_dropped:], n_dropped, cand))
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
        lo, hi, best = 0, len(candidate), None
        while lo < hi:
            mid = (lo + hi + 1) // 2
            found = fits(len(steps), head, clip(candidate, mid // 2, mid - mid // 2))
            if found is not None:
                lo, best = mid, found
            else:
                hi = mid - 1
        if best is None:
            raise ValueError(f"max_length {limit} is too short for even the start of the issue and the step")
        return best

    # -- scoring --------------------------------------------------------------------------------
    def score(self, steps: list[StepContext]) -> list[float]:
        encoded = [self.encode(ctx) for ctx in steps]
        keys = [hashlib.sha1(json.dumps(ids).encode()).hexdigest() for ids in encoded]
        todo = sorted({k: ids for k, ids in zip(keys, encoded) if k not in self.cache}.items(),
                      key=lambda item: len(item[1]))
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start:start + self.batch_size]
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
        with torch.inference_mode():
            logits = self.model(input_ids=input_ids, attention_mask=mask).logits.float()
        if self.head == "token":  # the reward at each input's last real token
            last = mask.sum(dim=1) - 1
            logits = logits[torch.arange(len(batch), device=logits.device), last]
        if logits.shape[-1] == 1:
            return torch.sigmoid(logits[:, 0]).tolist()
        return torch.softmax(logits, dim=-1)[:, -1].tolist()
