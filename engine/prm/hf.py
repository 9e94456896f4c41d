"""``hf:<dir>``: a user's own PRM, a local transformers sequence-classification checkpoint.

Needs the optional extra (``pip install 'trajscope[hf]'``). The step is shown to
the model as the issue, the path and the step (the rubric judge's rendering), cut
to the model's length. One label: sigmoid of the logit; two or more: the
probability of the last label (by convention, "resolves").
"""

from __future__ import annotations

from pathlib import Path

from engine.prm.base import ScorerError, StepContext
from engine.prm.model import pick_device
from engine.prm.rubric import prompt_for


class HFScorer:
    def __init__(self, directory: str, device: str | None = None, batch_size: int = 16, max_length: int = 512):
        path = Path(directory).expanduser()
        if not (path / "config.json").is_file():
            raise ScorerError(f"hf:{directory} is not a transformers checkpoint (no config.json there)")
        try:
            import transformers
        except ImportError:
            raise ScorerError("hf: scorers need transformers: pip install 'trajscope[hf]'") from None
        import torch

        self.name = f"hf:{directory}"
        self.device = pick_device(device)
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
            self.model = transformers.AutoModelForSequenceClassification.from_pretrained(path, local_files_only=True)
        except Exception as exc:
            raise ScorerError(f"hf:{directory} could not be loaded ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0][:200]})") from None
        self.model.to(self.device).eval()
        if self.device.type == "cuda":
            self.model.half()
        self.torch, self.batch_size, self.max_length = torch, batch_size, max_length

    def score(self, steps: list[StepContext]) -> list[float]:
        torch = self.torch
        out: list[float] = []
        with torch.inference_mode():
            for start in range(0, len(steps), self.batch_size):
                texts = [prompt_for(s) for s in steps[start:start + self.batch_size]]
                batch = self.tokenizer(texts, truncation=True, max_length=self.max_length, padding=True,
                                       return_tensors="pt").to(self.device)
                logits = self.model(**batch).logits.float()
                if logits.shape[-1] == 1:
                    out += torch.sigmoid(logits[:, 0]).tolist()
                else:
                    out += torch.softmax(logits, dim=-1)[:, -1].tolist()
        return out
