"""A saved model behind HTTP (FastAPI + uvicorn): load once, answer many requests.

* ``POST /predict`` ``{"texts": [...]}`` -> ``{"predictions": [...]}``, each entry what
  :meth:`Pipeline.predict` gives for the text;
* ``POST /explain`` ``{"text": ...}`` -> tokens, edges weighted by the last layer's
  attention, label and probabilities;
* ``GET /health``, ``GET /model`` (labels, encoder, graph, parameters, manifest hash);
* ``GET /``: a page to try the model, served from the package (no build step, nothing
  fetched from elsewhere).

Concurrent requests are micro-batched: :class:`MicroBatcher` gathers the texts of requests
that arrive within ``max_wait_ms`` of each other (up to ``max_batch``) into one model call,
which runs on the model's own thread, so the event loop keeps accepting requests; the model
is never run by two threads at once. Bad input gets a 4xx with one ``error``
message; nothing a client sends reaches a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import json
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from .errors import TextGNNError
from .runtime import free_port, release_freed_memory

TRIM_EVERY = 4096  # texts served between returns of freed heap to the OS


class MicroBatcher:
    """Texts of concurrent requests -> one call of ``fn`` (a list of texts -> one result per
    text), at most ``max_batch`` texts unless a single request brings more. Requests queued
    while the model was busy all join the next call; while requests arrive concurrently, the
    first of a batch also waits up to ``max_wait_ms`` for others to join.

    The model's own thread gathers the batches: it goes from one call straight to the next
    with whatever was queued meanwhile. Gathered by a coroutine instead, each next call waited
    for the event loop, busy reading and answering requests, and under 16 clients the model
    sat idle a quarter of the time."""

    def __init__(self, fn: Callable[[list[str]], list], max_batch: int = 256,
                 max_wait_ms: float = 1.0, initializer: Callable[[], None] | None = None):
        self.fn, self.initializer = fn, initializer
        self.max_batch, self.max_wait = max_batch, max_wait_ms / 1000
        self.queue: queue.SimpleQueue = queue.SimpleQueue()  # (texts, future) or None: stop
        self.calls = self.requests = 0  # model calls made, each serving one or more requests
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="textgnn-model", daemon=True)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread.start()

    async def stop(self) -> None:
        self.queue.put(None)

    async def submit(self, texts: Sequence[str]) -> list:
        future = self._loop.create_future()
        self.requests += 1
        self.queue.put((list(texts), future))
        return await future

    def _gather(self, concurrent: bool) -> list[tuple[list[str], asyncio.Future]] | None:
        first = self.queue.get()
        if first is None:
            return None
        jobs, count = [first], len(first[0])
        # Waiting only pays while requests arrive together (the last call served several);
        # a lone request goes at once, so a single client never pays max_wait_ms.
        deadline = time.monotonic() + (self.max_wait if concurrent else 0.0)
        while count < self.max_batch:
            try:
                job = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if job is None:
                self.queue.put(None)  # stop after this call
                break
            jobs.append(job)
            count += len(job[0])
        return jobs

    def _run(self) -> None:
        if self.initializer is not None:
            self.initializer()
        concurrent = False
        while (jobs := self._gather(concurrent)) is not None:
            concurrent = len(jobs) > 1
            self.calls += 1
            try:
                results, error = self.fn([t for texts, _ in jobs for t in texts]), None
            except Exception as exc:  # noqa: BLE001 - every waiting request gets the failure
                results, error = None, exc
            self._loop.call_soon_threadsafe(self._deliver, jobs, results, error)

    @staticmethod
    def _deliver(jobs: list, results: list | None, error: Exception | None) -> None:
        """On the event loop: each request's share of the call's results."""
        start = 0
        for texts, future in jobs:
            if not future.done():  # a client that went away cancelled its future
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(results[start:start + len(texts)])
            start += len(texts)


class BadRequest(Exception):
    """A client's mistake: answered with ``status`` and ``{"error": message}``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def model_info(pipeline, model_dir: Path) -> dict:
    """What ``GET /model`` tells: labels, encoder, graph, size, and the manifest's hash (which
    identifies the exact files served)."""
    from .nn import Backbone

    manifest = model_dir / "manifest.json"
    return {
        "labels": pipeline.labels,
        "encoder": pipeline.config.model.encoder,
        "graph": pipeline.config.graph.kind,
        "parameters": sum(p.numel() for p in pipeline.model.parameters()),
        "manifest_sha256": hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest.is_file() else None,
        "can_explain": isinstance(pipeline.model, Backbone),
    }


def create_app(model: str | Path, max_batch: int = 256, max_wait_ms: float = 1.0,
               max_texts: int = 1000, max_body_bytes: int = 1 << 20, threads: int = 1):
    """The FastAPI application serving the model directory ``model``."""
    import torch

    from .checkpoint import resolve_model_dir
    from .explain import explain
    from .pipeline import load

    model_dir = resolve_model_dir(model)
    pipeline = load(model_dir)
    pipeline.predict(["warm up the parser and the model ."])
    # Everything loaded so far lives as long as the server: keep it out of the cyclic
    # collector's scans, which otherwise cost a third of the time of small batches.
    gc.freeze()
    info = model_info(pipeline, model_dir)
    # torch's own intra-op threads only add overhead on texts this small (one MR sentence:
    # 6.1 ms with 2 threads, 2.7 ms with 1, called from a worker thread); the setting is the
    # calling thread's (OpenMP's), so each thread that runs the model makes it
    def use_threads() -> None:
        torch.set_num_threads(threads)

    # the batcher's thread and /explain's take turns: the model is never run by two at once
    model_lock = threading.Lock()
    served = 0

    def predict_texts(texts: list[str]) -> list[dict]:
        nonlocal served
        with model_lock:
            results = pipeline.predict(texts)
        served += len(texts)
        if served >= TRIM_EVERY:  # batches of every size leave freed heap glibc keeps
            served = 0
            release_freed_memory()
        return results

    batcher = MicroBatcher(predict_texts, max_batch, max_wait_ms, initializer=use_threads)
    page = resources.files("textgnn").joinpath("serving_page.html").read_text()

    @contextlib.asynccontextmanager
    async def lifespan(app):
        batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="textgnn", description=f"{info['encoder']} on {info['graph']} graphs",
                  lifespan=lifespan)

    async def read_json(request: Request) -> dict:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
            raise BadRequest(413, f"the body is {declared} bytes; the limit is {max_body_bytes}")
        body = b""
        async for chunk in request.stream():  # a body without a length is cut off at the limit too
            body += chunk
            if len(body) > max_body_bytes:
                raise BadRequest(413, f"the body is over the limit of {max_body_bytes} bytes")
        try:
            payload = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BadRequest(400, f"the body is not JSON ({exc})") from None
        if not isinstance(payload, dict):
            raise BadRequest(422, f"the body must be a JSON object, got {type(payload).__name__}")
        return payload

    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, exc: BadRequest):
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception):
        return JSONResponse({"error": f"internal error: {type(exc).__name__}: {exc}"}, status_code=500)

    @app.get("/health")
    async def health() -> dict:
        """Up and answering; how many model calls of this worker process served how many
        /predict requests."""
        return {"status": "ok", "predict_requests": batcher.requests, "model_calls": batcher.calls,
                "pid": os.getpid()}  # which worker process answered (serve --workers)

    @app.get("/model")
    async def model_card() -> dict:
        return info

    @app.post("/predict")
    async def predict(request: Request) -> JSONResponse:
        """``{"texts": [str, ...]}`` -> ``{"predictions": [{text, label, probs} | {text, error}]}``."""
        payload = await read_json(request)
        texts = payload.get("texts")
        if not isinstance(texts, list):
            raise BadRequest(422, 'give {"texts": [...]}: a list of strings')
        if not texts:
            raise BadRequest(422, "texts is empty: give at least one text")
        if len(texts) > max_texts:
            raise BadRequest(422, f"{len(texts)} texts; at most {max_texts} per request")
        wrong = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
        if wrong is not None:
            raise BadRequest(422, f"texts[{wrong}] is a {type(texts[wrong]).__name__}, not a string")
        # JSONResponse directly: the predictions are plain JSON already, and FastAPI's response
        # encoding of a returned dict walks every value again
        return JSONResponse({"predictions": await batcher.submit(texts)})

    @app.post("/explain")
    async def explain_text(request: Request) -> dict:
        """``{"text": str}`` -> tokens, edges ``[source, target, weight, type]``, label, probs."""
        payload = await read_json(request)
        text = payload.get("text")
        if not isinstance(text, str):
            raise BadRequest(422, 'give {"text": "..."}: one string')
        if not text.strip():
            raise BadRequest(422, "text is empty or whitespace only")
        if not info["can_explain"]:
            raise BadRequest(422, "this model fine-tunes its pretrained encoder; explain draws graph "
                                  "encoders only (use /predict)")

        def run() -> dict:
            use_threads()
            with model_lock:
                result = explain(pipeline, text)
                [prediction] = pipeline.predict([text])
            return result | {"probs": prediction["probs"]}

        try:
            return await asyncio.to_thread(run)
        except TextGNNError as exc:
            raise BadRequest(422, str(exc)) from None

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        return page

    return app


def serve(model: str | Path, host: str = "127.0.0.1", port: int = 8000, max_batch: int = 256,
          max_wait_ms: float = 1.0, max_texts: int = 1000, max_body_bytes: int = 1 << 20,
          threads: int = 1, workers: int = 1) -> None:
    """Run the server until interrupted; ``workers`` > 1 runs uvicorn's worker processes on
    one socket, each with its own copy of the model and its own micro-batcher."""
    import sys

    if min(max_batch, max_texts, max_body_bytes, threads, workers) < 1 or max_wait_ms < 0:
        raise TextGNNError("--max-batch, --max-texts, --max-body-bytes, --threads and --workers "
                           "must be positive and --max-wait-ms at least 0")
    options = {"model": str(model), "max_batch": max_batch, "max_wait_ms": max_wait_ms,
               "max_texts": max_texts, "max_body_bytes": max_body_bytes, "threads": threads}
    print(f"serving {model} on http://{host}:{port} with {workers} worker process(es) (page: /, "
          "API: /predict /explain /model /health, docs: /docs)", file=sys.stderr, flush=True)
    if workers == 1:
        uvicorn.run(create_app(**options), host=host, port=port, log_level="warning")
        return
    from .checkpoint import resolve_model_dir

    # a model that is not there is one error here, not a failure in every worker process
    options["model"] = str(resolve_model_dir(model))
    # worker processes import the app by name: the options travel in the environment
    os.environ[_OPTIONS] = json.dumps(options)
    uvicorn.run("textgnn.serving:app_from_environment", factory=True, host=host, port=port,
                workers=workers, log_level="warning")


_OPTIONS = "TEXTGNN_SERVE_OPTIONS"


def app_from_environment():
    """The app of one of ``serve --workers N``'s processes, from the options ``serve`` left in
    the environment."""
    return create_app(**json.loads(os.environ[_OPTIONS]))


@contextlib.contextmanager
def running_server(model: str | Path, *options: str, timeout: float = 60.0):
    """``python -m textgnn serve --model MODEL OPTIONS`` in a new process on 127.0.0.1 at a
    free port; yields its URL once ``/health`` answers (within ``timeout`` seconds, else
    RuntimeError with the end of its output) and stops it on exit. For tests and load tests."""
    import subprocess
    import sys
    import tempfile
    import time

    import httpx

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile("w+") as output:
        process = subprocess.Popen([sys.executable, "-m", "textgnn", "serve", "--model", str(model),
                                    "--port", str(port), *options], stdout=output, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if process.poll() is not None or time.monotonic() > deadline:
                    output.seek(0)
                    state = "exited" if process.poll() is not None else f"did not answer in {timeout:.0f} s"
                    raise RuntimeError(f"the server {state}: {output.read()[-2000:]}")
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            yield url, process
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
