"""BENCHMARKS.md from the stored parts: the figures against their targets, why a missed
target was missed, who measured what, and the tables of the training parts."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.parts.beyond import BEYOND
from benchmarks.parts.train import ENCODERS, GRAPHS, TOKENS_PER_BATCH

# Why a target can be missed, from torch.profiler / cProfile runs of the step in question
# (kept beside the numbers so BENCHMARKS.md says it next to every miss).
WHY = {
    "train_graphs_per_s_ratio/transformer-complete/": (
        "our Transformer carries a learned relative-position bias that the dense baseline "
        "lacks (the `-notypes` row does the baseline's work). Gathered per text, it cost 31 ms "
        "of a 142 ms step at 256 tokens (torch.profiler, one core): the backward scatter-add "
        "of 524,288 positions into 18 types, the gather, and the gradient's layout. Complete "
        "graphs share their offset pattern, so the bias is now gathered once per batch and "
        "its gradient summed over the batch before that scatter (0.83 -> 0.96 at 256 tokens "
        "in a side-by-side run), and attention skips the padding mask when no text is padded. "
        "What is left: building the dense layout from the edge list on every forward pass; "
        "both steps spend about a third of their time drawing dropout masks, which makes "
        "single trials at 256 tokens vary by about 0.06"),
    "train_graphs_per_s_ratio/gat-": (
        "PyG's GATConv materialises an (edges, heads, channels) message tensor; its edge term "
        "is computed once per edge type and gathered per edge (TypedGATConv), which took "
        "gat-window at 16 tokens from 0.95 to 1.10"),
    "20ng_window_training_peak_rss_gb": (
        "glibc heap fragmentation by batch tensors of a different size at every step, not live "
        "data (mallinfo2 on 4,000 posts: 0.5 GB in use, 1.1-1.8 GB freed but kept). Training "
        "returns freed memory (malloc_trim) every 65,536 tokens and before the test set is "
        "built, and graphs are stored with int32/int16 indices (0.5 GB of int64 on 20NG): "
        "8.79 GB -> 5.14 -> 3.63 GB, each time with identical test accuracy. Tried and not "
        "kept: train.max_batch_tokens 4,096 (71.2 % test accuracy); mallopt(M_MMAP_THRESHOLD) "
        "at 1 or 4 MB (1.5-2x epoch time)"),
    "serve_throughput_over_inprocess_batch": (
        "one text per request from 16 clients on the two cores the clients also use. The bound "
        "on this machine is `one_text_ceiling` in the details: the ratio if a request cost "
        "only what GET /health costs the same clients and server (`health_load`, no model) "
        "plus the model's in-process time per text; it is below 0.7, so the target needs "
        "cores the load generator does not share. What /predict adds to /health: the JSON of "
        "texts and predictions, the hand-off to the model thread and back, and model calls "
        "of at most the 16 requests in flight (`predict_requests` over `model_calls`). "
        "--max-wait-ms 1 instead of 5 took it from 0.15 to about 0.2: every call had waited "
        "the whole 5 ms for texts that only came after it. Earlier runs read 0.13 with "
        "490-560 requests/s on /health: that ceiling was httpx's async client, replaced by "
        "aiohttp"),
    "serve_throughput_2_workers_over_inprocess_batch": (
        "as with one worker: per-request work, now split over two processes that share the "
        "two cores with the clients, under the same bound (`one_text_ceiling`)"),
    "serve_throughput_32_per_request_over_inprocess_batch": (
        "one server process: its event loop and its model thread share one GIL and the two "
        "cores with the clients. Raising --max-batch from 64 to 256 took it from 0.59 to "
        "0.64, --max-wait-ms 1 and batches formed on the model thread to 0.70-0.73 (two runs "
        "on 2026-12-02: met in one, missed by 0.004 in the other)"),
    "serve_throughput_32_per_request_2_workers_over_inprocess_batch": (
        "two worker processes accept from one socket, and whichever accepts first takes a "
        "client's connection for the whole load: side by side, the same load read 5,940 or "
        "10,400-11,200 texts/s from one run to the next, as the 16 connections split evenly "
        "or not (0.67 to 1.3 of in-process batch)"),
    "serve_single_p50_over_inprocess": (
        "a lone request costs the model call plus loopback HTTP and the hand-off to the model "
        "thread and back (about 1 ms); one torch thread and gc.freeze took it from 12.0 to "
        "3.4-4.4 ms"),
    "dask_localcluster_over_process_pool_wall": (
        "timed pool, Dask, pool (426 s, 486 s, 447 s). Found and fixed: Dask's nanny starts "
        "workers with MALLOC_TRIM_THRESHOLD_=65536, which the runs inherited through the "
        "worker's forkserver (a run trained 6-9 % slower); this took the ratio from 1.21 to "
        "1.11. What is left: the cluster's start-up (two worker processes importing the "
        "training code, ~10 s) and the runs' own training time under Dask (863 s summed), "
        "not yet profiled against the pool's"),
    "cached_rerun_speedup": (
        "the cached path still decodes one JSON parse per text from SQLite and builds its graph; "
        "cProfile: JSON decoding and the SQLite read are most of what is left after "
        "vectorising graph construction"),
}


def write_markdown(path: Path, results: Path, parts: list[str], scaling: str) -> None:
    """``path`` from every part stored under ``results`` (``<part>.json``); ``scaling``: the
    address of the scaling plot as the markdown file sees it."""
    records = [json.loads((results / f"{p}.json").read_text()) for p in parts
               if (results / f"{p}.json").is_file()]
    lines = ["# Benchmarks", "", "Generated from `benchmarks/results/*.json` (a quick run: "
             "its scratch directory); each part names the "
             "command that measured it. Ratios compare numbers from the same process run.", "",
             "| figure | value | target | ok | part |", "|---|---:|---:|:---:|---|"]
    for rec in records:
        for r in rec["results"]:
            mark = {True: "yes", False: "**no**", None: "-"}[r["ok"]]
            target = "-" if r["target"] is None else r["target"]
            lines.append(f"| {r['name']} | {r['value']:.3g} {r['unit']} | {target} | {mark} "
                         f"| {rec['part']} |")
    misses = [(r, rec) for rec in records for r in rec["results"] if r["ok"] is False]
    if misses:
        lines += ["", "Missed targets:", ""]
        for r, _ in misses:
            above = r["value"] >= r["target"]  # over a ceiling or short of a floor
            gap = abs(r["value"] - r["target"]) / r["target"]
            why = next((text for prefix, text in WHY.items() if r["name"].startswith(prefix)),
                       "not yet profiled")
            lines.append(f"- {r['name']}: {r['value']:.3g} against {r['target']} "
                         f"({gap:.1%} {'over' if above else 'short'}). Why: {why}.")
    lines += ["", "Measured by:", ""]
    for rec in records:
        m = rec["machine"]
        took = "" if rec["seconds"] is None else f", {rec['seconds'] / 60:.1f} min"
        lines.append(f"- {rec['part']}: `{rec['command']}` on {rec['date']}, {m['cpus']} CPU "
                     f"core(s), torch {m['torch']}{took}")
    by_part = {rec["part"]: rec["details"] for rec in records}
    rows = by_part.get("train")
    if rows:
        lines += ["", "## Training throughput (graphs/s, ratio to the dense PyTorch encoder)", "",
                  f"{TOKENS_PER_BATCH} tokens per batch; graphs/s from the median step time, "
                  "its spread min-max in brackets. Each config's steps alternate with the "
                  "baseline's, and the ratio is the median of those paired ratios.", "",
                  "| config | " + " | ".join(f"{r['tokens']} tok" for r in rows) + " |",
                  "|---|" + "---:|" * len(rows)]
        fmt = lambda s, r: (f"{r['batch_size'] / s['median']:.0f} "  # noqa: E731
                            f"[{1000 * s['min']:.0f}-{1000 * s['max']:.0f} ms]")
        lines.append("| torch TransformerEncoder | "
                     + " | ".join(fmt(r["baseline"], r) for r in rows) + " |")
        keys = [f"{e}-{g}" for g in GRAPHS for e in ENCODERS] + ["transformer-complete-notypes"]
        for key in keys:
            if all(key in r for r in rows):
                lines.append(f"| {key} | " + " | ".join(
                    f"{fmt(r[key], r)} ({r[key]['ratio']:.2f}×)" for r in rows) + " |")
        lines += ["", f"![scaling]({scaling})"]
    beyond = by_part.get("beyond")
    if beyond:
        ref = beyond["transformer-complete"]["graphs_per_s"]
        lines += ["", "## Beyond self-attention: training speed on MR", "",
                  f"{beyond['texts']} MR training sentences in batches of {beyond['batch_size']}; "
                  "full training steps (forward, backward, AdamW), median over trials.", "",
                  "| encoder-graph | graphs/s | ratio to transformer-complete |", "|---|---:|---:|"]
        for encoder, graph in BEYOND:
            d = beyond[f"{encoder}-{graph}"]
            lines.append(f"| {encoder}-{graph} | {d['graphs_per_s']:.0f} | "
                         f"{d['graphs_per_s'] / ref:.2f}× |")
    lines += ["", "## All measurements", "", "```json",
              json.dumps(by_part, indent=1), "```", ""]
    path.write_text("\n".join(lines))
