"""One object from text to prediction, used by training, evaluation and inference alike, so
the text -> graph path at inference is exactly the one the model was trained on."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from . import __version__
from .batching import token_budget_batches
from .checkpoint import PRETRAINED, load_model_dir, resolve_model_dir, save_model_dir
from .config import Config
from .errors import TextGNNError
from .features import (
    ContextualFeatures,
    Vocab,
    align,
    encoder_dim,
    load_tokenizer,
    pretrained_files,
    resolve_pretrained,
    static_dim,
    static_vectors,
    token_spans,
)
from .graphs import GraphBuilder, TokenGraph, to_pyg
from .metrics import classification_metrics
from .nn import Backbone
from .nn.backbone import FEATURES
from .nn.pretrained import PretrainedEncoderClassifier, TextData
from .parsing import ParsedText, Parser, clean_texts

CHARS_PER_TOKEN = 50  # generous: English averages under 6 characters per token
PREDICT_MAX_TOKENS = {"sparse": 10_000, "complete": 2_000}
# Graphs are built this many texts at a time: the vectorised builder holds int64 arrays of
# every edge of what it builds until those graphs are stored narrow, 33 bytes an edge at the
# peak; all of 20NG's complete graphs cut at 512 tokens (0.9 G edges) would need 38 GB.
GRAPH_CHUNK = 512


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise TextGNNError(f"train.device: unknown device {name!r} (auto, cpu, cuda, cuda:N)") from None


class Pipeline:
    """Parser + graph builder + vocabulary + model + label names."""

    def __init__(self, config: Config, vocab: Vocab, labels: list[str],
                 relations: list[str] | None = None, model: Backbone | None = None,
                 parser: Parser | None = None, pretrained_dir: str | Path | None = None,
                 feature_dim: int | None = None):
        """``relations``: the dependency labels behind the edge-type vocabulary; by default
        the parser's own (a saved model keeps the list it was trained with).
        ``pretrained_dir``: a saved model's copy of its pretrained encoder files, used instead
        of ``model.pretrained``; ``feature_dim``: the saved width of its static vectors."""
        self.config = config
        m = config.model
        finetune = m.encoder == "finetune"
        if m.features not in FEATURES:
            raise TextGNNError(f"unknown model.features {m.features!r}; choose one of "
                               f"{', '.join(FEATURES)}")
        if (finetune or m.features != "learned") and not (pretrained_dir or m.pretrained):
            what = "model.encoder=finetune" if finetune else f"model.features={m.features}"
            raise TextGNNError(f"{what} needs model.pretrained (a Hugging Face model name or "
                               "directory, e.g. sentence-transformers/all-MiniLM-L6-v2)")
        source = pretrained_dir or m.pretrained
        self.pretrained = str(source) if source else None
        # the encoder is part of the model (fine-tuned) or a frozen, cached feature extractor
        tuned = finetune or (m.features == "contextual" and m.tune_pretrained)
        self.features = None
        if m.features == "contextual" and not tuned:
            self.features = ContextualFeatures(self.pretrained, m.pretrained_layers, m.max_subwords)
        self.tokenizer = load_tokenizer(self.pretrained) if tuned else None
        self.vocab = vocab
        self.labels = list(labels)
        g = config.graph
        self.parser = parser or Parser(g.parser, batch_size=g.parse_batch_size)
        if relations is None:
            relations = self.parser.relations if "dependency" in g.kind.split("+") else []
        self.relations = list(relations)
        self.builder = GraphBuilder(g.kind, g.window, g.clip, g.self_loops, g.reverse,
                                    self.relations)
        if model is None:
            if m.features == "contextual":
                feature_dim = encoder_dim(self.pretrained)
            elif m.features == "static" and feature_dim is None:
                feature_dim = static_dim(self.pretrained)
            model = None if finetune else Backbone(m, len(vocab), len(labels),
                                                   len(self.builder.edge_types), feature_dim)
            if tuned:
                model = PretrainedEncoderClassifier(
                    m, len(labels), str(resolve_pretrained(self.pretrained)),
                    load_weights=pretrained_dir is None, pad_id=self.tokenizer.pad_token_id,
                    backbone=model)
        self.model = model
        self.device = torch.device("cpu")

    def init_static_vectors(self) -> float:
        """Fill a fresh ``static`` embedding with the pretrained vectors of the vocabulary;
        returns the share of the vocabulary that had one (the rest keep their random init)."""
        vectors, found = static_vectors(self.pretrained, self.vocab.tokens)
        with torch.no_grad():
            weight = self.model.embedding.weight
            weight[torch.from_numpy(found)] = torch.from_numpy(vectors[found]).to(weight)
        return float(found.mean())

    def to(self, device: torch.device | str) -> Pipeline:
        self.device = torch.device(device)
        self.model.to(self.device)
        return self

    # text -> graph -------------------------------------------------------------------------
    def parse(self, texts: Sequence[str], progress: bool = True,
              max_tokens: int | None = None) -> list[ParsedText]:
        """Tokens (and parses) of ``texts``, cut to ``max_tokens`` (default
        ``data.max_tokens``) with a warning. The parser reads lone surrogates as U+FFFD
        (``parsing.clean_texts``), and a capped text is cut to ``CHARS_PER_TOKEN`` characters
        per allowed token before parsing, so a huge text never reaches the parser whole."""
        limit = max_tokens or self.config.data.max_tokens
        if limit:
            texts = [t[: limit * CHARS_PER_TOKEN] for t in texts]
        parsed = (self.parser.parse(texts, progress) if self.builder.needs_parse
                  else self.parser.tokenize(texts))
        if not limit:
            return parsed
        cut = sum(len(p.tokens) > limit for p in parsed)
        if cut:
            warnings.warn(f"data.max_tokens={limit}: truncated {cut} of {len(parsed)} texts",
                          stacklevel=2)
        return [p.truncate(limit) for p in parsed]

    def token_graphs(self, texts: Sequence[str], progress: bool = True) -> list[TokenGraph]:
        return self.builder.build_many(self.parse(texts, progress))

    def graphs(self, texts: Sequence[str], labels: Sequence[str] | None = None,
               progress: bool = True, max_tokens: int | None = None,
               parsed: list[ParsedText] | None = None) -> list:
        """Texts (and gold labels) -> PyG ``Data`` objects ready for batching. Node inputs
        ``x`` are token ids or frozen contextual vectors; a model that fine-tunes its encoder
        also gets each text's sub-word ids and their alignment to the tokens. Batch them
        with :meth:`collate`, not ``Batch.from_data_list``: complete graphs come without
        their edges. ``parsed``: what :meth:`parse` gave for these texts, when the caller
        has it already."""
        ys: list[int | None] = [None] * len(texts)
        if labels is not None:
            index = {name: i for i, name in enumerate(self.labels)}
            ys = [index.get(label, -1) for label in labels]
        texts = clean_texts(texts)  # the features, tokenizer and alignment read them too
        if parsed is None:
            parsed = self.parse(texts, progress, max_tokens)
        if self.features is not None:
            xs = [torch.from_numpy(v) for v in self.features(texts, [p.tokens for p in parsed], progress)]
        else:
            xs = [self.vocab.encode(p.tokens) for p in parsed]
        graphs = []
        for start in range(0, len(parsed), GRAPH_CHUNK):
            part = slice(start, start + GRAPH_CHUNK)
            built = ([TokenGraph.edgeless(p.tokens) for p in parsed[part]]
                     if self.builder.lengths_only  # edges made per batch by collate()
                     else self.builder.build_many(parsed[part]))
            graphs += [to_pyg(g, x, y) for g, x, y in zip(built, xs[part], ys[part], strict=True)]
        if self.tokenizer is not None:
            enc = self.tokenizer(list(texts), truncation=True, return_offsets_mapping=True,
                                 max_length=self.config.model.max_subwords)
            for i, g in enumerate(graphs):
                node, sub = align(token_spans(texts[i], parsed[i].tokens),
                                  np.asarray(enc["offset_mapping"][i]).reshape(-1, 2))
                g.sub_ids = torch.as_tensor(enc["input_ids"][i], dtype=torch.long)
                g.sub_graph = torch.zeros(g.sub_ids.numel(), dtype=torch.long)
                g.align_node, g.align_sub = torch.from_numpy(node), torch.from_numpy(sub)
            graphs = [TextData(**g.to_dict()) for g in graphs]
        return graphs

    def collate(self, graphs: list):
        """Graphs -> one PyG ``Batch``. The complete graph's edges are not stored (n^2 a
        text) but made here for this batch only: as the (n, n) matrix of their types
        (``complete_types``; (n, n, K) for a union such as ``window+complete``, whose other
        parts' edges come too, for the hybrid's local conv) when the model reads complete
        graphs densely, else as the edges themselves, the same edges in the same order as
        the graphs would have stored. Either way the model computes exactly what it
        computes from stored edges."""
        from torch_geometric.data import Batch

        batch = Batch.from_data_list(graphs)
        if not self.builder.lengths_only:
            return batch
        lengths = np.fromiter((g.num_nodes for g in graphs), np.int64, len(graphs))
        backbone = self.model if isinstance(self.model, Backbone) else getattr(self.model, "backbone", None)
        dense = backbone is not None and backbone.dense
        types = self.builder.complete_types(int(lengths.max())) if dense else None
        if types is not None:
            batch.complete_types = torch.from_numpy(types)
            edge_index, edge_type = self.builder.local_edges(lengths)
        else:
            edge_index, edge_type = self.builder.batch_edges(lengths)
        batch.edge_index = torch.from_numpy(edge_index)
        batch.edge_type = torch.from_numpy(edge_type)
        return batch

    # graph -> prediction -------------------------------------------------------------------
    @torch.no_grad()
    def logits(self, graphs: list, batch_size: int | None = None,
               progress: bool = False) -> torch.Tensor:
        """Logits in input order. Graphs are batched in order of size (less padding on the
        dense path), a deterministic order, so the same inputs always give bit-identical
        outputs on the same machine."""
        from tqdm.auto import tqdm

        lengths = [g.num_nodes for g in graphs]
        order = sorted(range(len(graphs)), key=lengths.__getitem__)
        budget = self.config.train.max_batch_tokens
        self.model.eval()
        out = torch.zeros(len(graphs), len(self.labels))
        batches = token_budget_batches(order, lengths, batch_size or self.config.train.eval_batch_size,
                                       budget and 4 * budget)  # no activations kept: 4x room
        # disable=None: silent when stderr is not a terminal
        for idx in tqdm(batches, desc="evaluating", unit="batch", leave=False,
                        disable=None if progress else True):
            batch = self.collate([graphs[i] for i in idx]).to(self.device)
            out[idx] = self.model(batch).float().cpu()
        return out

    def predict(self, texts: Sequence[str], batch_size: int | None = None) -> list[dict]:
        """One dict per text: ``label`` and ``probs`` (label -> probability), or ``error``."""
        results: list[dict] = [{"text": t} for t in texts]
        valid = []
        for i, text in enumerate(texts):
            if isinstance(text, str) and text.strip():
                valid.append(i)
            else:
                kind = "not a string" if not isinstance(text, str) else "empty or whitespace-only"
                results[i]["error"] = f"text is {kind}"
        if valid:
            # a model trained without data.max_tokens is still capped here: one huge input
            # must not exhaust memory (the complete graph grows with the square of its length)
            cap = PREDICT_MAX_TOKENS["complete" if "complete" in self.builder.kind else "sparse"]
            graphs = self.graphs([texts[i] for i in valid], progress=False,
                                 max_tokens=self.config.data.max_tokens or cap)
            probs = torch.softmax(
                self.logits(graphs, batch_size), -1
            )
            for i, row in zip(valid, probs.tolist(), strict=True):
                results[i]["label"] = self.labels[max(range(len(row)), key=row.__getitem__)]
                results[i]["probs"] = dict(zip(self.labels, row, strict=True))
        return results

    def evaluate(self, texts: Sequence[str], labels: Sequence[str], source: str = "data",
                 progress: bool = True) -> dict:
        """Metrics of the model on labelled texts; labels the model never saw are an error."""
        unknown = sorted(set(labels) - set(self.labels))
        if unknown:
            raise TextGNNError(
                f"{source}: label(s) {', '.join(map(repr, unknown[:5]))} never seen in training; "
                f"the model knows {', '.join(map(repr, self.labels))}"
            )
        return self.evaluate_graphs(self.graphs(texts, labels, progress), progress)

    def evaluate_graphs(self, graphs: list, progress: bool = False) -> dict:
        pred = self.logits(graphs, progress=progress).argmax(-1).tolist()
        gold = [int(g.y) for g in graphs]
        return classification_metrics(
            [self.labels[i] for i in gold], [self.labels[i] for i in pred], self.labels
        ) | {"predictions": [self.labels[i] for i in pred]}

    # model directory -----------------------------------------------------------------------
    def save_pretrained(self, path: str | Path) -> Path:
        meta = {
            "textgnn_version": __version__,
            "config": self.config.to_dict(),
            "relations": self.relations,
            "edge_types": self.builder.edge_types,
            "vocab_size": len(self.vocab),
            "labels": self.labels,
            "feature_dim": self.model.embedding.embedding_dim
            if self.config.model.features == "static" else None,
        }
        files = []
        if self.tokenizer is not None or self.features is not None:
            # a frozen feature extractor ships its weights; a fine-tuned one is in the state
            files = pretrained_files(self.pretrained, weights=self.features is not None)
        return save_model_dir(path, meta, self.model.state_dict(), self.vocab.to_json(),
                              self.labels, files)

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path, device: str = "cpu") -> Pipeline:
        meta, state, vocab, labels = load_model_dir(name_or_path)
        copy = resolve_model_dir(name_or_path) / PRETRAINED
        try:
            config = Config.from_dict(meta["config"], source=f"{name_or_path}/config.json")
            pipeline = cls(config, Vocab.from_json(vocab), labels, meta["relations"],
                           pretrained_dir=copy if copy.is_dir() else None,
                           feature_dim=meta.get("feature_dim"))
        except KeyError as exc:
            raise TextGNNError(f"{name_or_path}/config.json: missing key {exc}") from None
        try:
            pipeline.model.load_state_dict(state)
        except RuntimeError as exc:
            raise TextGNNError(
                f"{name_or_path}/model.safetensors does not match config.json: {exc}"
            ) from None
        return pipeline.to(resolve_device(device))


def load(name_or_path: str | Path, device: str = "cpu") -> Pipeline:
    """Load a saved model directory (or hub repo id) as a ready-to-use :class:`Pipeline`."""
    return Pipeline.from_pretrained(name_or_path, device)
