"""Training the builtin PRM, and the metrics it is judged by.

Split by task (never by step): ``held_out`` tasks, drawn with the seed, are kept
out of training, and AUROC and pairwise ranking accuracy are measured on them,
for the model and for the heuristic side by side. The weights written carry
that report, so the benchmark and the shipped weights always agree.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from trajscope.engine.files import replacing
from trajscope.engine.prm import data
from trajscope.engine.prm.model import CONFIG, PRMNet, collate, encode, pick_device


def auroc(scores: list[float], labels: list[int]) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half); 0.5 when one class is missing."""
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    if not pos or not neg:
        return 0.5
    ranked = sorted((s, y) for s, y in zip(scores, labels))
    rank_sum, i = 0.0, 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        mean_rank = (i + 1 + j) / 2
        rank_sum += mean_rank * sum(1 for k in range(i, j) if ranked[k][1])
        i = j
    return (rank_sum - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))


def pairwise_accuracy(examples: list[data.Example], scores: list[float]) -> float:
    """Over pairs of final steps of the same task, one resolved and one not: how often the
    resolved one scores higher (ties count half). This is what choosing a patch needs."""
    by_task: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for ex, s in zip(examples, scores):
        if ex.final:
            by_task[ex.context.task_id].append((s, ex.outcome))
    right = total = 0.0
    for finals in by_task.values():
        for sp, yp in finals:
            if not yp:
                continue
            for sn, yn in finals:
                if yn:
                    continue
                total += 1
                right += 1.0 if sp > sn else 0.5 if sp == sn else 0.0
    return right / total if total else 0.5


def evaluate_scores(examples: list[data.Example], scores: list[float]) -> dict:
    labels = [e.outcome for e in examples]
    return {
        "auroc": round(auroc(scores, labels), 4),
        "pairwise": round(pairwise_accuracy(examples, scores), 4),
        "steps": len(examples),
        "positive": sum(labels),
    }


def _dropped(e, rng: random.Random, p: float):
    """``e`` with a share ``p`` of each segment's tokens dropped (regularises the bag embeddings)."""
    from trajscope.engine.prm.model import Encoded

    ids = [tuple(i for i in seg if rng.random() >= p) for seg in e.ids]
    return Encoded(ids, e.kinds, e.status, e.roles, e.facts)


def _predict(model: PRMNet, encoded: list, device: torch.device, batch: int = 256) -> list[float]:
    model.eval()
    out: list[float] = []
    with torch.inference_mode():
        for start in range(0, len(encoded), batch):
            logits = model(**collate(encoded[start : start + batch], device))
            out += torch.sigmoid(logits.float()).tolist()
    return out


def train(
    dataset: Path | None,
    weights: Path,
    seed: int = 0,
    epochs: int = 12,
    held_out: int = 3,
    device: str | None = None,
    batch_size: int = 64,
    lr: float = 2e-3,
    token_dropout: float = 0.3,
    say: Callable[[str], None] = lambda s: None,
    examples: list | None = None,
    init: Path | None = None,
) -> dict:
    """Train from ``dataset`` (or ``examples``), from scratch or from ``init`` (fine-tuning);
    write ``weights`` with the held-out report in their metadata: AUROC and pairwise accuracy
    of the new weights, of the shipped ones and of the heuristic, on tasks held out."""
    from trajscope.engine.prm.heuristic import HeuristicScorer
    from trajscope.engine.prm.model import WEIGHTS, BuiltinScorer, load_weights

    started = time.perf_counter()
    examples = examples if examples is not None else data.load(dataset)
    train_ex, test_ex, test_tasks = data.split_by_task(examples, held_out, seed)
    dev = pick_device(device)
    random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    say(
        f"training on {len(train_ex)} steps of {len({e.context.task_id for e in train_ex})} tasks, "
        f"holding out {', '.join(test_tasks)} ({len(test_ex)} steps), on {dev.type}"
    )
    train_enc = [encode(e.context) for e in train_ex]
    test_enc = [encode(e.context) for e in test_ex]
    targets = torch.tensor([e.label for e in train_ex], dtype=torch.float32)
    model = (load_weights(init)[0].float() if init else PRMNet(**CONFIG)).to(dev)
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    loss_fn = nn.BCEWithLogitsLoss()
    order = list(range(len(train_enc)))
    rng = random.Random(seed)
    for epoch in range(epochs):
        model.train()
        rng.shuffle(order)
        total = 0.0
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            batch = [_dropped(train_enc[i], rng, token_dropout) for i in chunk]
            logits = model(**collate(batch, dev))
            loss = loss_fn(logits, targets[chunk].to(dev))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(chunk)
        say(f"epoch {epoch + 1}/{epochs}: loss {total / len(order):.4f}")
    builtin = evaluate_scores(test_ex, _predict(model, test_enc, dev))
    heuristic = evaluate_scores(test_ex, HeuristicScorer().score([e.context for e in test_ex]))
    shipped = evaluate_scores(test_ex, BuiltinScorer(device="cpu", weights=WEIGHTS).score([e.context for e in test_ex]))
    report = {
        "seed": seed,
        "epochs": epochs,
        "held_out_tasks": test_tasks,
        "train_steps": len(train_ex),
        "test_steps": len(test_ex),
        "builtin": builtin,
        "shipped": shipped,
        "heuristic": heuristic,
        "init": str(init) if init else None,
        "device": dev.type,
        "torch": str(torch.__version__),
        "train_s": round(time.perf_counter() - started, 1),
        "dataset": str(dataset) if dataset else None,
    }
    state = {k: v.detach().to("cpu", torch.float16) for k, v in model.state_dict().items()}
    with replacing(weights) as fh:  # whole or not at all, never through a link
        torch.save({"config": CONFIG, "state": state, "meta": report}, fh)
    say(
        f"held-out AUROC: these weights {builtin['auroc']:.3f}, the shipped ones {shipped['auroc']:.3f}, "
        f"heuristic {heuristic['auroc']:.3f}; "
        f"weights written to {weights}"
    )
    return report
