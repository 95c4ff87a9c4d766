"""``serve``: a bounded load test of ``python -m textgnn serve`` on loopback against
in-process ``predict`` on the same texts (MR test sentences, a model on window graphs).

N concurrent clients send one text per request for T seconds, then 32 texts per request for
T seconds, each on one server process and on two (``--workers 2``); the figures are the
server's throughput (texts answered per second) over
in-process batch ``predict``, the p50 of one client's single-text requests
over in-process single-text ``predict``, the error count, and the server's RSS growth over
the load (its RSS read from /proc before and after).

The clients share this machine's cores with the server, so the load generator must be lean:
the clients are aiohttp coroutines (httpx's async client topped out at 490-560 GET /health
requests/s where aiohttp's reached 4,700-5,800 against the same server: the old ceiling was
the client's), and the single-text latency is read through the standard library's
keep-alive ``http.client`` (0.7 ms under httpx's sync client per request)."""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.common import figure, log
from benchmarks.parts.predict import train_small_model
from textgnn.data import load_dataset
from textgnn.serving import running_server

CLIENTS = 16
PER_REQUEST = 32  # the second load: clients that send their texts in batches
WORKERS = 2  # then both loads on `serve --workers 2`


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _load(url: str, texts: list[str], clients: int, seconds: float, per_request: int = 1,
                path: str = "/predict") -> dict:
    """``clients`` coroutines, each posting ``per_request`` texts at a time until ``seconds``
    pass; ``texts_per_s`` counts texts answered."""
    import aiohttp

    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(url, connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=60)) as session:
        async def one(k: int) -> None:
            nonlocal errors
            i = k * per_request
            while time.perf_counter() < stop:
                chunk = [texts[(i + j) % len(texts)] for j in range(per_request)]
                start = time.perf_counter()
                if path == "/health":
                    async with session.get(path) as response:
                        await response.read()
                        errors += response.status != 200
                else:
                    async with session.post(path, json={"texts": chunk}) as response:
                        answer = await response.json()
                        errors += response.status != 200 or any(
                            "label" not in p for p in answer["predictions"])
                latencies.append(1000 * (time.perf_counter() - start))
                i += clients * per_request

        start = time.perf_counter()
        await asyncio.gather(*(one(k) for k in range(clients)))
        elapsed = time.perf_counter() - start
    return {"requests": len(latencies), "errors": errors,
            "texts_per_s": per_request * len(latencies) / elapsed,
            "p50_ms": _percentile(latencies, 0.5), "p99_ms": _percentile(latencies, 0.99)}


def _sequential_p50(url: str, texts: list[str]) -> float:
    """One client, one text per request, one request at a time on one keep-alive connection."""
    import http.client
    from urllib.parse import urlsplit

    where = urlsplit(url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=60)
    latencies = []
    try:
        for text in texts:
            body = json.dumps({"texts": [text]})
            start = time.perf_counter()
            connection.request("POST", "/predict", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            latencies.append(1000 * (time.perf_counter() - start))
            if response.status != 200:
                raise RuntimeError(f"/predict answered {response.status}")
    finally:
        connection.close()
    return statistics.median(latencies)


def _warm(url: str, texts: list[str]) -> None:
    """Every text once through the server, as the in-process baseline was warmed."""
    import httpx

    for i in range(0, len(texts), 500):
        httpx.post(f"{url}/predict", json={"texts": texts[i:i + 500]}, timeout=120).raise_for_status()


def bench_serve(seconds: float, singles: int) -> tuple[dict, list[dict]]:
    import httpx
    import torch

    import textgnn

    texts = [t for t in load_dataset("mr", splits=("test",)).test.texts if t.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = train_small_model("window", Path(tmp) / "window")
        pipeline = textgnn.load(model_dir)
        # warm: parser, model, allocator, and the tokenisation cache for every text the load
        # will send (the server meets each text many times; cold, predict ran 35 % slower)
        pipeline.predict(texts)
        # the baseline is the faster of torch's default threads and one thread (the server's)
        batch_per_s, inproc_p50 = 0.0, float("inf")
        threads = torch.get_num_threads()
        for n in sorted({threads, 1}):
            torch.set_num_threads(n)
            start = time.perf_counter()
            pipeline.predict(texts[:2000])
            batch_per_s = max(batch_per_s, 2000 / (time.perf_counter() - start))
            single = []
            for text in texts[:singles]:
                start = time.perf_counter()
                pipeline.predict([text])
                single.append(1000 * (time.perf_counter() - start))
            inproc_p50 = min(inproc_p50, statistics.median(single))
        torch.set_num_threads(threads)
        del pipeline

        with running_server(model_dir) as (url, server):
            _warm(url, texts)
            server_p50 = _sequential_p50(url, texts[:singles])
            # the ceiling of any request: the same clients on GET /health (no model call)
            floor = asyncio.run(_load(url, texts, CLIENTS, seconds / 3, path="/health"))
            rss_before = _rss_mb(server.pid)
            loaded = asyncio.run(_load(url, texts, CLIENTS, seconds))
            batched = asyncio.run(_load(url, texts, CLIENTS, seconds, PER_REQUEST))
            rss_after = _rss_mb(server.pid)
            health = httpx.get(f"{url}/health").json()
        # the same loads on two worker processes, each with its own model (memory x 2)
        with running_server(model_dir, "--workers", str(WORKERS)) as (url, _):
            for _ in range(2 * WORKERS):  # warm every worker the kernel hands a connection to
                _warm(url, texts)
            loaded_workers = asyncio.run(_load(url, texts, CLIENTS, seconds))
            batched_workers = asyncio.run(_load(url, texts, CLIENTS, seconds, PER_REQUEST))
    detail = {"clients": CLIENTS, "seconds": seconds,
              "in_process_batch_texts_per_s": batch_per_s,
              "in_process_single_p50_ms": inproc_p50, "server_single_p50_ms": server_p50,
              "load": loaded, f"load_{PER_REQUEST}_per_request": batched, "health_load": floor,
              f"load_{WORKERS}_workers": loaded_workers,
              f"load_{PER_REQUEST}_per_request_{WORKERS}_workers": batched_workers,
              # the most one text per request could reach here: requests that cost only what
              # GET /health costs, plus the model's own time per text
              "one_text_ceiling": 1 / (1 / floor["texts_per_s"] + 1 / batch_per_s) / batch_per_s,
              "rss_before_mb": rss_before, "rss_after_mb": rss_after,
              "model_calls": health["model_calls"], "predict_requests": health["predict_requests"]}
    log(f"serve: {loaded['texts_per_s']:.0f} texts/s with {CLIENTS} clients (p50 {loaded['p50_ms']:.1f} ms, "
        f"p99 {loaded['p99_ms']:.1f} ms, {loaded['errors']} errors) vs in-process batch "
        f"{batch_per_s:.0f}/s; single p50 {server_p50:.1f} ms vs {inproc_p50:.1f} ms in process; "
        f"RSS {rss_before:.0f} -> {rss_after:.0f} MB; {PER_REQUEST} texts per request: "
        f"{batched['texts_per_s']:.0f} texts/s, {batched['errors']} errors; GET /health "
        f"{floor['texts_per_s']:.0f} requests/s; {WORKERS} workers: {loaded_workers['texts_per_s']:.0f} "
        f"and {batched_workers['texts_per_s']:.0f} texts/s")
    return detail, [
        figure("serve_throughput_over_inprocess_batch", loaded["texts_per_s"] / batch_per_s, 0.7),
        figure(f"serve_throughput_{PER_REQUEST}_per_request_over_inprocess_batch",
               batched["texts_per_s"] / batch_per_s, 0.7),
        figure(f"serve_throughput_{WORKERS}_workers_over_inprocess_batch",
               loaded_workers["texts_per_s"] / batch_per_s, 0.7),
        figure(f"serve_throughput_{PER_REQUEST}_per_request_{WORKERS}_workers_over_inprocess_batch",
               batched_workers["texts_per_s"] / batch_per_s, 0.7),
        figure("serve_single_p50_over_inprocess", server_p50 / inproc_p50, 1.5, higher_is_better=False),
        figure("serve_errors", loaded["errors"] + batched["errors"] + loaded_workers["errors"]
               + batched_workers["errors"], 0, higher_is_better=False),
        figure("serve_rss_growth", rss_after / rss_before - 1, 0.10, higher_is_better=False),
    ]


def run(quick: bool, out: Path) -> tuple[dict, list[dict]]:
    return bench_serve(10.0 if quick else 30.0, 100 if quick else 300)
