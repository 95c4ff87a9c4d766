"""The dropout mask kernels (textgnn/nn/dropout.py)."""

import pytest
import torch

from textgnn.nn.dropout import Dropout, dropout, kernel


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.8])
def test_bulk_keeps_each_element_with_probability_one_minus_p_and_is_unbiased(p):
    torch.manual_seed(0)
    x = torch.ones(1000, 401)  # an odd element count: the last random word is cut
    with kernel("bulk"):
        out = dropout(x, p)
    kept = out != 0
    # every lane of the 64-bit words alike (a lane biased by the words' sign bit would show)
    for lane in range(4):
        share = kept.flatten()[lane::4].float().mean().item()
        assert share == pytest.approx(1 - p, abs=0.005)
    assert out[kept].unique().tolist() == [pytest.approx(1 / (1 - p), rel=1e-4)]
    assert out.mean().item() == pytest.approx(1.0, abs=0.01)  # E[dropout(x)] = x


def test_bulk_is_seeded_and_its_gradient_is_the_mask():
    x = torch.randn(64, 33, requires_grad=True)
    with kernel("bulk"):
        torch.manual_seed(7)
        first = dropout(x, 0.4)
        torch.manual_seed(7)
        second = dropout(x, 0.4)
    assert torch.equal(first, second)
    first.sum().backward()
    # 0 where dropped, 1/(1-p) where kept
    torch.testing.assert_close(x.grad, (first != 0).float() / (1 - 0.4), rtol=1e-4, atol=0)


def test_the_kernel_in_use_decides_and_eval_or_zero_rate_is_identity():
    x = torch.randn(50, 40)
    module = Dropout(0.5)
    torch.manual_seed(1)
    reference = torch.nn.functional.dropout(x, 0.5, training=True)
    torch.manual_seed(1)
    assert torch.equal(module(x), reference)  # outside kernel(): torch's
    with kernel("bulk"):
        torch.manual_seed(1)
        assert not torch.equal(module(x), reference)
        assert dropout(x, 0.0) is x and dropout(x, 0.5, training=False) is x
        assert torch.equal(dropout(x, 0.99999999), torch.zeros_like(x))
    module.eval()
    assert module(x) is x
