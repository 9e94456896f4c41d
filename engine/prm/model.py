"""The ``builtin`` PRM: a small torch model shipped with its weights.

Architecture, and why. A path is a sequence of steps, and what predicts
success is mostly *which* things happened in *what order* (an edit, then tests
that pass; an error; a submit with no test run), plus lexical cues inside
observations (``3 passed``, ``AssertionError``). So the model is hierarchical:
each step (and the issue) becomes one vector, the mean of hashed unigram and
bigram embeddings of its action and observation (a fastText-style bag, which
needs no vocabulary file and no network); a 2-layer transformer encoder then
reads the sequence of step vectors with embeddings for the step's kind, its
outcome, its role and its recency; the candidate's output, the mean over the
path and a few trace facts (tests after the last edit, repeats, errors) go to a
small head. It has about 2.2 M parameters (fp16 on disk, ~4.5 MB), trains in a
couple of minutes on a laptop CPU from a few thousand labelled steps, and
scores thousands of steps a second; a byte- or BPE-level transformer over whole
traces would need far more data than a few bundled tasks give, and be slower.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from trajscope.engine.actions import KINDS, classify
from trajscope.engine.prm.base import NEUTRAL, ScorerError, StepContext
from trajscope.engine.prm.features import clip, facts, hashed, is_test_run, test_summary, tokens
from trajscope.engine.prm.heuristic import HeuristicScorer

WEIGHTS = Path(__file__).resolve().parent / "weights" / "builtin.pt"
CONFIG = {"buckets": 1 << 15, "dim": 64, "layers": 2, "heads": 4, "max_steps": 24, "facts": 12}
KIND_IDS = {k: i + 2 for i, k in enumerate(KINDS)}  # 0 padding, 1 the issue
STATUS = {"pad": 0, "issue": 1, "ok": 2, "error": 3, "unrun": 4, "tests_pass": 5, "tests_fail": 6}
MAX_TOKENS = 800  # hashed ids per segment
_HEURISTIC = HeuristicScorer()  # its logit is one input: the model learns corrections to it


def pick_device(preference: str | None = None) -> torch.device:
    """The device to score on: the preference, else CUDA, else MPS, else CPU."""
    if preference:
        if preference.startswith("cuda") and not torch.cuda.is_available():
            raise ScorerError("--device cuda was asked for, but torch sees no CUDA GPU")
        if preference == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ScorerError("--device mps was asked for, but MPS is not available")
        return torch.device(preference)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


@functools.lru_cache(maxsize=1 << 16)
def segment(text: str) -> tuple[int, ...]:
    return tuple(hashed(tokens(text), CONFIG["buckets"])[:MAX_TOKENS])


@dataclass(slots=True)
class Encoded:
    ids: list[tuple[int, ...]]
    kinds: list[int]
    status: list[int]
    roles: list[int]
    facts: list[float]


def encode(ctx: StepContext) -> Encoded:
    steps = ctx.steps[-CONFIG["max_steps"] :]
    ids, kinds, status, roles = [segment(clip(ctx.issue, 1500, 500))], [1], [STATUS["issue"]], [0]
    for i, step in enumerate(steps):
        candidate = i == len(steps) - 1
        args = " ".join(f"{k} {v}" for k, v in step.action.args.items())
        ran = not (candidate and ctx.observation is None)
        text = f"{step.action.tool} {clip(args, 300, 200)} || {clip(step.observation, 400, 600) if ran else ''}"
        ids.append(segment(text))
        kinds.append(KIND_IDS.get(classify(step.action.to_dict()), 4))
        if not ran:
            state = "unrun"
        elif is_test_run(step):
            summary = test_summary(step.observation)
            state = "tests_fail" if (summary and summary[1]) or step.exit_code else "tests_pass"
        else:
            state = "error" if step.exit_code not in (0, None) else "ok"
        status.append(STATUS[state])
        roles.append(2 if candidate else 1)
    f = facts(ctx.steps)
    after = f.test_after_edit
    vector = [
        float(after is not None and after[1] == 0 and after[0] > 0),
        float(after is not None and after[1] > 0),
        float(after is None and f.edits > 0),
        min(f.edits, 5) / 5,
        min(f.repeats, 5) / 5,
        min(f.errors, 5) / 5,
        float(f.candidate_error),
        float(f.submits),
        min(f.steps, 30) / 30,
        float(f.check_after_edit == 0),
        float(f.check_after_edit not in (0, None)),
        _HEURISTIC.logit(ctx) / 4,
    ]
    return Encoded(ids, kinds, status, roles, vector)


def collate(batch: list[Encoded], device: torch.device) -> dict:
    width = max(len(e.ids) for e in batch)
    flat: list[int] = []
    offsets: list[int] = []
    kinds, status, roles, pos, mask = [], [], [], [], []
    for e in batch:
        n = len(e.ids)
        for seg in e.ids + [()] * (width - n):
            offsets.append(len(flat))
            flat.extend(seg)
        pad = [0] * (width - n)
        kinds.append(e.kinds + pad)
        status.append(e.status + pad)
        roles.append(e.roles + pad)
        pos.append([min(n - 1 - i, CONFIG["max_steps"]) for i in range(n)] + pad)
        mask.append([True] * n + [False] * (width - n))

    def t(x, dtype=torch.long):
        return torch.tensor(x, dtype=dtype, device=device)

    return {
        "ids": t(flat or [0]),
        "offsets": t(offsets),
        "kinds": t(kinds),
        "status": t(status),
        "roles": t(roles),
        "pos": t(pos),
        "mask": t(mask, torch.bool),
        "lengths": t([len(e.ids) for e in batch]),
        "facts": t([e.facts for e in batch], torch.float32),
    }


class PRMNet(nn.Module):
    def __init__(self, buckets: int, dim: int, layers: int, heads: int, max_steps: int, facts: int):
        super().__init__()
        self.bag = nn.EmbeddingBag(buckets, dim, mode="mean")
        self.kind = nn.Embedding(len(KINDS) + 2, dim)
        self.status = nn.Embedding(len(STATUS), dim)
        self.role = nn.Embedding(3, dim)
        self.pos = nn.Embedding(max_steps + 1, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, dim * 2, dropout=0.1, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.facts = nn.Linear(facts, dim)
        self.head = nn.Sequential(nn.LayerNorm(3 * dim), nn.Linear(3 * dim, dim), nn.GELU(), nn.Linear(dim, 1))

    def forward(self, ids, offsets, kinds, status, roles, pos, mask, lengths, facts):
        batch, width = kinds.shape
        x = self.bag(ids, offsets).view(batch, width, -1).to(self.kind.weight.dtype)
        x = x + self.kind(kinds) + self.status(status) + self.role(roles) + self.pos(pos)
        h = self.encoder(x, src_key_padding_mask=~mask)
        last = h[torch.arange(batch, device=h.device), lengths - 1]
        pooled = (h * mask.unsqueeze(-1)).sum(1) / lengths.unsqueeze(-1).to(h.dtype)
        z = torch.cat([last, pooled, self.facts(facts.to(h.dtype))], dim=-1)
        return self.head(z).squeeze(-1)


def load_weights(path: Path = WEIGHTS) -> tuple[PRMNet, dict]:
    """The model and its metadata; ScorerError when the file is missing or damaged."""
    if not path.is_file():
        raise ScorerError(f"no PRM weights at {path}; train them with trajscope prm train")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        model = PRMNet(**blob["config"])
        model.load_state_dict({k: v.float() for k, v in blob["state"].items()})
    except Exception as exc:
        raise ScorerError(
            f"the PRM weights at {path} are damaged or not trajscope weights "
            f"({type(exc).__name__}); retrain with trajscope prm train"
        ) from None
    return model, dict(blob.get("meta") or {})


class BuiltinScorer:
    name = "builtin"

    def __init__(self, device: str | None = None, weights: Path | None = None, batch_size: int = 64):
        self.device = pick_device(device)
        self.model, self.meta = load_weights(weights or WEIGHTS)
        self.half = self.device.type == "cuda"
        self.model = self.model.to(self.device).eval()
        if self.half:
            self.model = self.model.half()
        self.batch_size = batch_size

    @torch.inference_mode()
    def score(self, steps: list[StepContext]) -> list[float]:
        if not steps:
            return []
        encoded = [encode(s) for s in steps]
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].ids))  # length buckets
        scores = [NEUTRAL] * len(encoded)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            logits = self.model(**collate([encoded[i] for i in chunk], self.device))
            for i, p in zip(chunk, torch.sigmoid(logits.float()).tolist()):
                scores[i] = p
        return scores
