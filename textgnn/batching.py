"""Batching: seeded length buckets and token budgets, shared by training and inference."""

from __future__ import annotations

import torch


def token_budget_batches(order: list[int], lengths: list[int], batch_size: int,
                         max_tokens: int | None) -> list[list[int]]:
    """Cut ``order`` into batches of at most ``batch_size`` texts and, when given, at most
    ``max_tokens`` tokens (a longer text gets a batch of its own), so memory is bounded by
    tokens rather than by texts."""
    batches: list[list[int]] = []
    current: list[int] = []
    tokens = 0
    for i in order:
        if current and (len(current) == batch_size or
                        (max_tokens is not None and tokens + lengths[i] > max_tokens)):
            batches.append(current)
            current, tokens = [], 0
        current.append(i)
        tokens += lengths[i]
    if current:
        batches.append(current)
    return batches


class BucketBatchSampler:
    """Seeded batches of similar-length texts in random order.

    Each epoch shuffles the examples, sorts them by length within windows of ``bucket``
    batches, cuts batches (``batch_size`` texts, at most ``max_tokens`` tokens) and shuffles
    the batch order: batches hold texts of similar length (little padding for the dense
    path, even edge counts for the sparse one) while their order and make-up still change
    every epoch. ``bucket <= 1`` is a plain shuffle.
    """

    def __init__(self, lengths: list[int], batch_size: int, bucket: int, seed: int,
                 max_tokens: int | None = None):
        self.lengths, self.batch_size, self.bucket = lengths, batch_size, bucket
        self.max_tokens = max_tokens
        self.generator = torch.Generator().manual_seed(seed)
        self._next: list[list[int]] | None = None

    def _epoch(self) -> list[list[int]]:
        order = torch.randperm(len(self.lengths), generator=self.generator).tolist()
        if self.bucket <= 1:
            return token_budget_batches(order, self.lengths, self.batch_size, self.max_tokens)
        window = self.batch_size * self.bucket
        batches = []
        for start in range(0, len(order), window):
            chunk = sorted(order[start:start + window], key=self.lengths.__getitem__)
            batches += token_budget_batches(chunk, self.lengths, self.batch_size, self.max_tokens)
        return [batches[i] for i in torch.randperm(len(batches), generator=self.generator).tolist()]

    def __len__(self) -> int:
        # With a token budget the count depends on the shuffle, so the coming epoch is drawn
        # here (once: the random stream is the same whether or not len() is asked).
        if self._next is None:
            self._next = self._epoch()
        return len(self._next)

    def __iter__(self):
        batches = self._next if self._next is not None else self._epoch()
        self._next = None
        yield from batches


class RankShard:
    """Distributed training: every process draws the same global batches (same seed) and
    rank r keeps examples r, r + world, ... of each, so together the processes see exactly
    the batches of a single-process run. A batch smaller than ``world`` goes to every rank
    whole (the gradient average is then that batch's gradient)."""

    def __init__(self, sampler: BucketBatchSampler, rank: int, world: int):
        self.sampler, self.rank, self.world = sampler, rank, world

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self):
        for batch in self.sampler:
            yield batch[self.rank::self.world] if len(batch) >= self.world else batch
