r"""Dropout with a choice of mask kernel (``model.dropout_kernel``).

.. math::
    \mathrm{Dropout}_p(x) = x \odot m / (1 - p),\qquad m_i \sim \mathrm{Bernoulli}(1 - p)

``torch`` is ``torch.nn.functional.dropout``. On the CPU it draws one Bernoulli sample per
element (about 10 ns each on this project's machines): a quarter of a 20NG GAT epoch, a
seventh of an MR GCN epoch. ``bulk`` draws 64 random bits per four elements and keeps an
element when its 16 bits clear a threshold: the keep probability is :math:`1 - p` with
:math:`p` rounded to a multiple of :math:`2^{-16}`, and the mask costs 4-5x less. Both draw
from torch's seeded generator, so a run is reproducible under either; their masks differ,
so a config names its kernel and a recorded run keeps the one it was trained with.

Every dropout of a backbone, the convs' attention dropout included, draws its masks with the
kernel of the backbone's config (:func:`kernel` around its forward); outside one, ``torch``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_LEVELS = 1 << 16  # a 16-bit lane of a random int64


def _bulk(x: Tensor, p: float) -> Tensor:
    drop = round(p * _LEVELS)  # lanes below this threshold are dropped
    if drop >= _LEVELS:
        return x * 0
    n = x.numel()
    # full-range int64s: each of their four int16 lanes is uniform on [-2^15, 2^15)
    words = torch.randint(-(1 << 63), (1 << 63) - 1, ((n + 3) // 4,), dtype=torch.int64,
                          device=x.device)
    lanes = words.view(torch.int16)[:n].view(x.shape)
    keep = (lanes >= drop - _LEVELS // 2).to(x.dtype).mul_(_LEVELS / (_LEVELS - drop))
    return x * keep


KERNELS: dict[str, Callable[[Tensor, float], Tensor]] = {
    "torch": lambda x, p: F.dropout(x, p, training=True),
    "bulk": _bulk,
}

_current: ContextVar[str] = ContextVar("dropout_kernel", default="torch")


@contextlib.contextmanager
def kernel(name: str) -> Iterator[None]:
    """Draw the masks of every :func:`dropout` in this block with kernel ``name``."""
    token = _current.set(name)
    try:
        yield
    finally:
        _current.reset(token)


def dropout(x: Tensor, p: float, training: bool = True) -> Tensor:
    """``F.dropout`` with the mask kernel in use (:func:`kernel`)."""
    if not training or p == 0:
        return x
    return KERNELS[_current.get()](x, p)


class Dropout(nn.Module):
    """``nn.Dropout`` with the mask kernel in use."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
