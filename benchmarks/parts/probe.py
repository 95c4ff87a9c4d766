"""``probe``: the attention-syntax probe on all-MiniLM-L6-v2 over 1,000 MR test sentences
(parse cache warm), against the encoder's own forward pass with attention maps on the same
texts: what mapping sub-words to words and scoring every head adds."""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks.common import figure, log
from textgnn.data import load_dataset
from textgnn.parsing import Parser
from textgnn.probe import probe

MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def _forward_only(texts: list[str]) -> float:
    """Seconds for the encoder alone to produce every attention map (batches of 32, as the
    probe runs it)."""
    import torch
    from transformers import AutoModel

    from textgnn.features import load_tokenizer, resolve_pretrained

    encoder = AutoModel.from_pretrained(str(resolve_pretrained(MODEL)), attn_implementation="eager")
    tokenizer = load_tokenizer(MODEL)
    encoder.eval()
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(texts), 32):
            enc = tokenizer(texts[i:i + 32], truncation=True, max_length=512, padding=True,
                            return_tensors="pt")
            encoder(**enc, output_attentions=True)
    return time.perf_counter() - start


def run(quick: bool, out: Path) -> tuple[dict, list[dict]]:
    count = 1000
    texts = [t for t in load_dataset("mr", splits=("test",)).test.texts if t.strip()][:count]
    Parser().parse(texts, progress=False)  # the parse cache warm, as the target says
    forward_s = _forward_only(texts)
    start = time.perf_counter()
    result = probe(MODEL, "mr", limit=count, progress=False)
    probe_s = time.perf_counter() - start
    log(f"probe: {count} MR sentences in {probe_s:.1f} s (the encoder alone {forward_s:.1f} s)")
    detail = {"texts": result["texts"], "words": result["words"], "probe_s": probe_s,
              "encoder_forward_s": forward_s, "best_head_all": result["relations"][0]["accuracy"]}
    return detail, [
        figure("probe_minilm_1000_mr_seconds", probe_s, 120.0, higher_is_better=False, unit="s"),
        figure("probe_time_over_encoder_forward", probe_s / forward_s, None, higher_is_better=False),
    ]
