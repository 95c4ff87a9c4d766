"""Does self-attention learn the graph? Every head of a model's attention against the
dependency parse of the same texts, by the method of Clark et al. (2019, "What Does BERT
Look At?", BlackboxNLP):

* **dependent -> head**: a head "predicts" word *i*'s dependency head as the word *i*
  attends to most, itself excluded; the score per relation is the share of words of that
  relation whose prediction is their head.
* **head -> dependent**: the same on the transposed map: the word that attends most to *i*
  is taken as *i*'s head (Clark et al.'s ``head<-dep`` mode).
* **fixed offset**: the baseline head that always attends to the word ``k`` places away,
  ``k`` in :data:`OFFSETS`; per relation the best ``k`` is reported.
* **arc mass**: per head, the mean over words of the attention a word puts on its arcs (its
  head and its dependents), beside what a uniform head and the best fixed-offset head put
  there.

Attention over sub-words is mapped to the parser's words first: attention *to* a word is the
sum over its pieces, attention *from* a word the mean over its pieces; special tokens are
dropped and every row renormalised. Our own models attend over the parser's tokens already
(the ``transformer`` conv, the global attention of ``hybrid``); their maps are read per
edge from the sparse path and need no mapping.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import TextGNNError
from .figures import save_figure, subplots

# Clark et al. scored offsets -3..2 (0 clamped to the word itself); self is never a head here
OFFSETS = (-3, -2, -1, 1, 2, 3)
DIRECTIONS = ("dep_to_head", "head_to_dep")
SKIPPED = ("ROOT", "punct")  # as in Clark et al.'s table: no head, and mostly noise


def word_attention(attention: np.ndarray, token: np.ndarray, piece: np.ndarray,
                   n_words: int) -> np.ndarray:
    r"""Sub-word attention (..., S, S) -> word attention (..., n, n).

    ``token[p], piece[p]`` pairs a word with one of its sub-words (a sub-word may belong to
    two words); sub-words in no pair (special tokens) drop out. With :math:`M` the (n, S)
    membership matrix and :math:`\bar M` its rows divided by their sums:

    .. math::
        W = \bar M\, A\, M^\top, \qquad W_{ij} \leftarrow W_{ij} / \textstyle\sum_k W_{ik}
    """
    member = np.zeros((n_words, attention.shape[-1]), dtype=np.float64)
    member[token, piece] = 1.0
    pieces = member.sum(1, keepdims=True)
    if (pieces == 0).any():
        raise TextGNNError(f"word {int(np.flatnonzero(pieces[:, 0] == 0)[0])} has no sub-word")
    words = (member / pieces) @ attention.astype(np.float64) @ member.T
    total = words.sum(-1, keepdims=True)
    return words / np.where(total > 0, total, 1.0)


@dataclass
class Parse:
    heads: np.ndarray  # (n,) index of each word's head; a root is its own head
    relations: np.ndarray  # (n,) index into the relation list


class Tally:
    """Counts over many texts for one model: correct head predictions per (layer, head,
    relation) in both directions, the offset baselines per relation, and the arc mass."""

    def __init__(self, layers: int, heads: int, relations: Sequence[str]):
        self.relations = list(relations)
        r = len(self.relations)
        self.words = np.zeros(r, dtype=np.int64)
        self.correct = {d: np.zeros((layers, heads, r), dtype=np.int64) for d in DIRECTIONS}
        self.offset = np.zeros((len(OFFSETS), r), dtype=np.int64)
        self.mass = np.zeros((layers, heads))
        self.uniform_mass = 0.0
        self.offset_mass = np.zeros(len(OFFSETS))
        self.mass_words = 0
        self.texts = 0

    def add(self, attention: np.ndarray, parse: Parse) -> None:
        """``attention`` (layers, heads, n, n): row i is word i's attention over the words."""
        n = attention.shape[-1]
        words = np.arange(n)
        scored = parse.heads != words  # roots have no head to find
        onehot = np.zeros((n, len(self.relations)), dtype=np.int64)
        onehot[words[scored], parse.relations[scored]] = 1
        self.words += onehot.sum(0)
        others = attention.copy()
        others[..., words, words] = -np.inf  # the most attended *other* word
        for direction, scores in (("dep_to_head", others), ("head_to_dep", np.swapaxes(others, -1, -2))):
            top = scores.argmax(-1, keepdims=True)
            # a row that gives no weight to any other word predicts nothing
            gave = np.take_along_axis(scores, top, -1)[..., 0] > 0
            hit = ((top[..., 0] == parse.heads) & gave).astype(np.int64)  # (L, H, n)
            self.correct[direction] += hit @ onehot
        for k, offset in enumerate(OFFSETS):
            self.offset[k] += ((words + offset) == parse.heads).astype(np.int64) @ onehot
        # arcs in either direction, self excluded
        arc = np.zeros((n, n), dtype=bool)
        arc[words[scored], parse.heads[scored]] = True
        arc |= arc.T
        self.mass += (attention * arc).sum((-1, -2))
        self.uniform_mass += float(arc.sum() / n)
        for k, offset in enumerate(OFFSETS):
            inside = (words + offset >= 0) & (words + offset < n)
            self.offset_mass[k] += float(arc[words[inside], words[inside] + offset].sum())
        self.mass_words += n
        self.texts += 1

    def accuracy(self, direction: str) -> np.ndarray:
        """(layers, heads, relations): share of each relation's words whose head is found."""
        return self.correct[direction] / np.maximum(self.words, 1)

    def offset_accuracy(self) -> np.ndarray:
        """(offsets, relations): the same for the fixed-offset heads of :data:`OFFSETS`."""
        return self.offset / np.maximum(self.words, 1)

    def result(self) -> dict:
        """Scores as JSON: per direction a (layers, heads) map over all relations; ``all``
        and then every relation seen, most frequent first, with its best head and offset."""
        keep = np.array([r not in SKIPPED for r in self.relations])
        out: dict = {"texts": self.texts, "words": int(self.words[keep].sum()), "offsets": list(OFFSETS)}
        for direction in DIRECTIONS:
            correct = self.correct[direction]
            out[direction] = (correct[..., keep].sum(-1) / max(1, self.words[keep].sum())).tolist()
        frequent = [i for i in np.argsort(-self.words, kind="stable") if keep[i] and self.words[i]]
        rows = [("all", keep)] + [(self.relations[i], np.eye(len(keep), dtype=bool)[i]) for i in frequent]
        table = []
        for name, chosen in rows:
            n = int(self.words[chosen].sum())
            best = max(((self.correct[d][..., chosen].sum(-1) / max(n, 1), d) for d in DIRECTIONS),
                       key=lambda s: s[0].max())
            layer, head = np.unravel_index(int(best[0].argmax()), best[0].shape)
            offsets = self.offset[:, chosen].sum(-1) / max(n, 1)
            table.append({"relation": name, "words": n, "accuracy": float(best[0].max()),
                          "layer": int(layer), "head": int(head), "direction": best[1],
                          "offset": OFFSETS[int(offsets.argmax())], "offset_accuracy": float(offsets.max())})
        out["relations"] = table
        mass_words = max(self.mass_words, 1)
        out["arc_mass"] = (self.mass / mass_words).tolist()
        out["arc_mass_uniform"] = self.uniform_mass / mass_words
        out["arc_mass_offset"] = float(self.offset_mass.max() / mass_words)
        return out


def relation_index(parser) -> dict[str, int]:
    """Every label the parser can give (plus ``ROOT`` and the catch-all ``dep``) -> an index."""
    return {r: i for i, r in enumerate(sorted(set(parser.relations) | {"ROOT", "dep"}))}


# ---- where attention comes from ------------------------------------------------------------
def _parse_of(parsed, relations: dict[str, int], n: int) -> Parse:
    """The parse of a text's first ``n`` words; a label outside the list counts as ``dep``."""
    cut = parsed.truncate(n)
    return Parse(np.asarray(cut.heads, dtype=np.int64),
                 np.asarray([relations.get(d, relations["dep"]) for d in cut.deps], dtype=np.int64))


def hf_attention(encoder, tokenizer, texts: Sequence[str], parsed: Sequence, relations: dict[str, int],
                 batch_size: int = 32, max_length: int = 512) -> Iterator[tuple[np.ndarray, Parse]]:
    """Word-level maps of a Hugging Face encoder, one (layers, heads, n, n) array per text;
    a text longer than ``max_length`` sub-words keeps the words it covers."""
    import torch

    from .features import align, token_spans

    encoder.eval()
    for start in range(0, len(texts), batch_size):
        chunk = list(texts[start:start + batch_size])
        enc = tokenizer(chunk, truncation=True, max_length=max_length, padding=True,
                        return_offsets_mapping=True, return_tensors="pt")
        offsets = enc.pop("offset_mapping").numpy()
        with torch.no_grad():
            out = encoder(**enc, output_attentions=True)
        maps = torch.stack(out.attentions, 1).float().numpy()  # (B, L, H, S, S)
        for b, text in enumerate(chunk):
            spans = token_spans(text, parsed[start + b].tokens)
            token, piece = align(spans, offsets[b])
            n = int((spans[:, 1] <= offsets[b, :, 1].max()).sum())  # words the pieces cover whole
            if n == 0:
                continue
            keep = token < n
            words = word_attention(maps[b], token[keep], piece[keep], n)
            yield words, _parse_of(parsed[start + b], relations, n)


def graph_attention(pipeline, texts: Sequence[str], parsed: Sequence, relations: dict[str, int],
                    batch_size: int = 64) -> Iterator[tuple[np.ndarray, Parse]]:
    """Maps of our own attention encoders, read per edge from every block's attention (the
    sparse path sees every edge) and laid out as (layers, heads, n, n) per text."""
    import torch

    model = pipeline.model
    convs = [getattr(block.conv, "attention", block.conv) for block in model.blocks]
    dense = model.dense
    model.eval()
    for conv in convs:
        conv.keep_weights = True
    model.dense = False
    try:
        for start in range(0, len(texts), batch_size):
            graphs = pipeline.graphs(list(texts[start:start + batch_size]), progress=False)
            batch = pipeline.collate(graphs)
            with torch.no_grad():
                model(batch)
            weights = torch.stack([conv.edge_weights for conv in convs], 1)  # (E, L, H)
            src, dst = batch.edge_index
            graph = batch.batch[dst]
            for b, g in enumerate(graphs):
                n = g.num_nodes
                mine = graph == b
                first = batch.ptr[b]
                maps = np.zeros((len(convs), weights.size(-1), n, n))
                maps[:, :, (dst[mine] - first).numpy(), (src[mine] - first).numpy()] = (
                    weights[mine].permute(1, 2, 0).double().numpy())
                yield maps, _parse_of(parsed[start + b], relations, n)
    finally:
        for conv in convs:
            conv.keep_weights, conv.edge_weights = False, None
        model.dense = dense


def _source(model: str):
    """(kind, display name, config, attention iterator factory) for a model directory of ours
    or a Hugging Face encoder name/directory."""
    if (Path(model) / "labels.json").is_file():  # a model directory of ours
        from .pipeline import load

        pipeline = load(model)
        inner = getattr(pipeline.model, "encoder", None)
        if inner is not None:  # finetune / tuned: the pretrained encoder being fine-tuned
            inner.set_attn_implementation("eager")
            original = Path(pipeline.config.model.pretrained or pipeline.pretrained).name  # hub name
            trained_on = Path(pipeline.config.data.name).name
            return ("fine-tuned " + original, f"{original} fine-tuned on {trained_on}", pipeline.config,
                    lambda texts, parsed, rel: hf_attention(inner, pipeline.tokenizer, texts, parsed, rel))
        encoders = {"transformer", "hybrid"}
        if pipeline.config.model.encoder not in encoders:
            raise TextGNNError(f"{model}: the probe reads attention over a complete graph "
                               f"(encoder transformer or hybrid, or a fine-tuned pretrained "
                               f"encoder); this model's encoder is {pipeline.config.model.encoder}")
        if "complete" not in pipeline.config.graph.kind.split("+"):
            raise TextGNNError(f"{model}: its attention runs on the {pipeline.config.graph.kind} "
                               "graph, not the complete graph")
        name = (f"{pipeline.config.model.encoder}-{pipeline.config.graph.kind} from scratch on "
                f"{Path(pipeline.config.data.name).name}")
        return ("ours", name, pipeline.config,
                lambda texts, parsed, rel: graph_attention(pipeline, texts, parsed, rel))
    from transformers import AutoModel

    from .features import load_tokenizer, resolve_pretrained

    directory = resolve_pretrained(model)
    encoder = AutoModel.from_pretrained(str(directory), attn_implementation="eager",
                                        use_safetensors=True)
    tokenizer = load_tokenizer(model)
    return ("pretrained", f"{Path(model).name} (frozen)", None,
            lambda texts, parsed, rel: hf_attention(encoder, tokenizer, texts, parsed, rel))


def probe(model: str, data: str, split: str = "test", limit: int | None = None,
          parser: str = "en_core_web_sm", progress: bool = True) -> dict:
    """Probe ``model`` (our model directory or a Hugging Face encoder) on a dataset split."""
    from tqdm.auto import tqdm

    from .data import split_texts
    from .parsing import Parser

    kind, name, config, attention = _source(model)
    texts = split_texts(data, split, limit)
    spacy = Parser(parser)
    parsed = spacy.parse(texts, progress)
    relations = relation_index(spacy)
    names = list(relations)
    tally = None
    for maps, parse in tqdm(attention(texts, parsed, relations), total=len(texts), desc="probing",
                            unit="text", disable=None if progress else True, leave=False):
        tally = tally or Tally(maps.shape[0], maps.shape[1], names)
        tally.add(maps, parse)
    if tally is None:
        raise TextGNNError("no text could be probed")
    result = tally.result()
    result.update(model=model, kind=kind, data=Path(data).name, split=split,
                  name=name, config=config and config.to_dict())
    return result


def stem(result: dict) -> str:
    """A file name for a probe result: readable, and unique per model and data."""
    digest = hashlib.sha1(result["model"].encode()).hexdigest()[:6]
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in result["name"]).strip("-")
    return f"{safe}-{digest}--{result['data']}-{result['split']}"


def plot_heatmaps(result: dict, directory: Path) -> list[Path]:
    """One layers x heads heatmap per measure."""
    measures = {"dep_to_head": "dependent -> head accuracy", "head_to_dep": "head -> dependent accuracy",
                "arc_mass": "attention mass on dependency arcs"}
    paths = []
    for key, title in measures.items():
        grid = np.asarray(result[key])
        fig, ax = subplots(figsize=(1.2 + 0.45 * grid.shape[1], 1.2 + 0.4 * grid.shape[0]))
        image = ax.imshow(grid, cmap="viridis", vmin=0, vmax=max(grid.max(), 1e-9), aspect="auto")
        ax.set(xlabel="head", ylabel="layer", xticks=range(grid.shape[1]), yticks=range(grid.shape[0]))
        ax.set_title(f"{result['name']}\n{title} ({result['data']} {result['split']})", fontsize=9)
        fig.colorbar(image, ax=ax)
        path = directory / f"{stem(result)}-{key}.png"
        save_figure(fig, path)
        paths.append(path)
    return paths


def save(result: dict, directory: str | Path) -> Path:
    """``<stem>.json`` and its heatmaps under ``directory``; then the directory's report."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{stem(result)}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    plot_heatmaps(result, directory)
    return path
