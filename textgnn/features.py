"""Token vocabulary for learned node embeddings."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

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
