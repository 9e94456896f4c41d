"""A stand-in for ``vllm serve`` for tests: the endpoints trajscope's ``vllm:`` scorer calls
(``GET /v1/models``, ``POST /classify``, ``POST /v1/completions`` with ``logprobs``), answered
in vLLM's shapes by a small transformers checkpoint run here, with an API key and faults.
vLLM itself needs a GPU build that this machine cannot install."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeVLLM:
    def __init__(self, directory, api_key: str = "", max_model_len: int = 4096, max_logprobs: int = 20):
        import torch
        import transformers

        self.torch, self.api_key, self.max_model_len = torch, api_key, max_model_len
        self.max_logprobs = max_logprobs  # vllm serve --max-logprobs (20 unless raised)
        config = transformers.AutoConfig.from_pretrained(directory)
        self.generative = any(a.endswith("ForCausalLM") for a in config.architectures or [])
        auto = transformers.AutoModelForCausalLM if self.generative else transformers.AutoModelForSequenceClassification
        self.model = auto.from_pretrained(directory).eval()
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
        self.multi = getattr(config, "problem_type", None) == "multi_label_classification"
        self.requests: list[dict] = []
        self.faults: list[int] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _allowed(self) -> bool:
                if server.api_key and self.headers.get("Authorization") != f"Bearer {server.api_key}":
                    self._send(401, {"error": "Unauthorized"})
                    return False
                return True

            def do_GET(self):
                if not self._allowed():
                    return
                if self.path == "/v1/models":
                    self._send(
                        200,
                        {
                            "object": "list",
                            "data": [{"id": "critic", "object": "model", "max_model_len": server.max_model_len}],
                        },
                    )
                else:
                    self._send(404, {"error": "not found"})

            def do_POST(self):
                if not self._allowed():
                    return
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                server.requests.append({"path": self.path, **body})
                if server.faults:
                    self._send(server.faults.pop(0), {"error": "scheduled fault"})
                    return
                if self.path == "/classify" and not server.generative:
                    self._send(200, server.classify(body["input"]))
                elif self.path == "/v1/completions" and (body.get("logprobs") or 0) > server.max_logprobs:
                    self._send(
                        400,
                        {
                            "error": f"Requested sample logprobs of {body['logprobs']}, which is greater "
                            f"than max allowed: {server.max_logprobs}"
                        },
                    )
                elif self.path == "/v1/completions" and server.generative:
                    self._send(200, server.complete(body["prompt"], body.get("logprobs") or 0))
                else:
                    self._send(404, {"error": f"{self.path} is not served for this model"})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def _logits(self, ids: list[int]):
        with self.torch.inference_mode():
            return self.model(input_ids=self.torch.tensor([ids])).logits[0].float()

    def classify(self, inputs: list) -> dict:
        data = []
        for index, ids in enumerate(inputs):
            logits = self._logits(ids)
            probs = self.torch.sigmoid(logits) if self.multi or logits.numel() == 1 else self.torch.softmax(logits, -1)
            data.append({"index": index, "label": "x", "probs": probs.tolist(), "num_classes": logits.numel()})
        return {"object": "list", "data": data}

    def complete(self, prompts: list, top: int) -> dict:
        choices = []
        for index, ids in enumerate(prompts):
            logprobs = self.torch.log_softmax(self._logits(ids)[-1], -1)
            best = self.torch.topk(logprobs, min(top, logprobs.numel()))
            tops = {self.tokenizer.decode([int(t)]): float(v) for v, t in zip(best.values, best.indices)}
            token = self.tokenizer.decode([int(best.indices[0])])
            choices.append({"index": index, "text": token, "logprobs": {"tokens": [token], "top_logprobs": [tops]}})
        return {"object": "text_completion", "choices": choices}

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
