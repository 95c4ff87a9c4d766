"""The seed's claim: self-attention is message passing on the complete graph."""

import pytest
import torch
from torch import nn
from torch_geometric.data import Batch, Data
from torch_geometric.nn import GATConv

from textgnn.config import ModelConfig
from textgnn.graphs import GraphBuilder
from textgnn.nn import CONVS, Backbone, Block, make_conv
from textgnn.nn.convs import EDGE_DIM, DenseLayout, _type_rows, attention_math, complete_layout
from textgnn.parsing import ParsedText

HIDDEN, HEADS, FFN = 16, 4, 32


def chain_parse(n):
    """A parse without a parser: token i depends on token i - 1 (``amod``) or ``nsubj`` every
    third token; token 0 is the root."""
    heads = [max(i - 1, 0) for i in range(n)]
    deps = ["ROOT"] + ["nsubj" if i % 3 == 0 else "amod" for i in range(1, n)]
    return ParsedText([f"t{i}" for i in range(n)], heads, deps)


RELATIONS = ["ROOT", "amod", "nsubj"]


def complete_batch(sizes, hidden, generator, kind="complete"):
    builder = GraphBuilder(kind, self_loops=True, relations=RELATIONS)
    graphs = []
    for n in sizes:
        g = builder.build(chain_parse(n))
        graphs.append(Data(x=torch.randn(n, hidden, generator=generator, dtype=torch.float64),
                           edge_index=torch.from_numpy(g.edge_index),
                           edge_type=torch.from_numpy(g.edge_type), num_nodes=n))
    return Batch.from_data_list(graphs)


def dense_layer_from(block: Block) -> nn.TransformerEncoderLayer:
    """A stock PyTorch encoder layer carrying exactly the block's weights."""
    conv = block.conv
    layer = nn.TransformerEncoderLayer(HIDDEN, HEADS, FFN, dropout=0.0, activation="gelu",
                                       batch_first=True, norm_first=False, dtype=torch.float64)
    with torch.no_grad():
        layer.self_attn.in_proj_weight.copy_(torch.cat(
            [conv.query.weight, conv.key.weight, conv.value.weight]))
        layer.self_attn.in_proj_bias.copy_(torch.cat(
            [conv.query.bias, conv.key.bias, conv.value.bias]))
        layer.self_attn.out_proj.load_state_dict(conv.out.state_dict())
        layer.linear1.load_state_dict(block.linear1.state_dict())
        layer.linear2.load_state_dict(block.linear2.state_dict())
        layer.norm1.load_state_dict(block.norm1.state_dict())
        layer.norm2.load_state_dict(block.norm2.state_dict())
    return layer.eval()


@pytest.mark.parametrize("path", ["sparse", "dense"])
def test_transformer_block_on_complete_graph_is_self_attention(path):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    conv = make_conv("transformer", HIDDEN, HEADS, num_edge_types=0, attention_dropout=0.0)
    block = Block(conv, HIDDEN, FFN, dropout=0.0).double().eval()
    sizes = [5, 1, 9, 3, 12]
    batch = complete_batch(sizes, HIDDEN, gen)
    layout = None
    if path == "dense":
        layout = complete_layout(batch.edge_index, batch.edge_type, batch.batch)
        assert layout is not None
    sparse = block(batch.x, batch.edge_index, batch.edge_type, layout)

    dense_layer = dense_layer_from(block)
    padded = torch.zeros(len(sizes), max(sizes), HIDDEN, dtype=torch.float64)
    mask = torch.ones(len(sizes), max(sizes), dtype=torch.bool)  # True = padding
    for g, n in enumerate(sizes):
        padded[g, :n] = batch.x[batch.batch == g]
        mask[g, :n] = False
    with torch.no_grad():
        dense = dense_layer(padded, src_key_padding_mask=mask)
    expected = torch.cat([dense[g, :n] for g, n in enumerate(sizes)])
    assert (sparse - expected).abs().max().item() <= 1e-5
    # and the difference is not trivially zero because both are zero
    assert expected.abs().mean() > 0.1


@pytest.mark.parametrize("encoder", sorted(CONVS))
@pytest.mark.parametrize("pooling", ["mean", "max", "attention"])
def test_node_relabelling_permutes_outputs_and_keeps_logits(encoder, pooling):
    torch.manual_seed(0)
    cfg = ModelConfig(encoder=encoder, hidden=HIDDEN, heads=HEADS, ffn=FFN, layers=2,
                      positions="none", edge_types=True, pooling=pooling, word_dropout=0.0)
    model = Backbone(cfg, vocab_size=30, num_classes=3, num_edge_types=7).double().eval()
    gen = torch.Generator().manual_seed(3)
    n, e = 11, 30
    x = torch.randint(0, 30, (n,), generator=gen)
    edge_index = torch.randint(0, n, (2, e), generator=gen)
    edge_type = torch.randint(0, 7, (e,), generator=gen)
    if encoder == "hybrid":  # reads a union: a local part (0 = absent) and a global part
        edge_type = torch.stack([edge_type, torch.randint(1, 7, (e,), generator=gen)], 1)
    perm = torch.randperm(n, generator=gen)
    inverse = torch.empty_like(perm)
    inverse[perm] = torch.arange(n)
    graph = Data(x=x, edge_index=edge_index, edge_type=edge_type, pos=torch.arange(n))
    relabelled = Data(x=x[perm], edge_index=inverse[edge_index], edge_type=edge_type,
                      pos=torch.arange(n))
    with torch.no_grad():
        h = model.node_states(graph.x, graph.edge_index, graph.edge_type)
        h_perm = model.node_states(relabelled.x, relabelled.edge_index, relabelled.edge_type)
        logits = model(Batch.from_data_list([graph]))
        logits_perm = model(Batch.from_data_list([relabelled]))
    assert torch.allclose(h_perm, h[perm], atol=1e-10)
    assert torch.allclose(logits_perm, logits, atol=1e-10)
    assert not torch.allclose(h_perm, h, atol=1e-3)  # the relabelling did move nodes


@pytest.mark.parametrize(("kind", "encoder", "with_types"), [
    ("complete", "transformer", False), ("complete", "transformer", True),
    ("complete", "gcn", False), ("complete", "gcn", True),
    ("complete", "gat", False), ("complete", "gat", True),
    # syntax-biased attention (a bias per relation plus one per offset) and the other convs
    # on a union: their per-part type parameters are summed on the dense path too
    ("dependency+complete", "transformer", True), ("dependency+complete", "gcn", True),
    ("dependency+complete", "gat", True),
    ("dependency+complete", "hybrid", True), ("window+complete", "hybrid", True)])
@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA GPU here"))])
def test_dense_fast_path_matches_message_passing(kind, encoder, with_types, device):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(2)
    num_edge_types = len(GraphBuilder(kind, relations=RELATIONS).edge_types) if with_types else 0
    conv = make_conv(encoder, HIDDEN, HEADS, num_edge_types, attention_dropout=0.0).double()
    type_tables = [m.weight for m in conv.modules() if isinstance(m, nn.Embedding)]
    assert len(type_tables) == (0 if not with_types else 2 if encoder == "hybrid" else 1)
    for table in type_tables:  # GCN's and the transformer's start at zero: make them matter
        torch.nn.init.normal_(table, std=1.0, generator=gen)
    conv.to(device)
    batch = complete_batch([4, 13, 1, 7], HIDDEN, gen, kind).to(device)
    layout = complete_layout(batch.edge_index, batch.edge_type, batch.batch)
    results = []
    for path_layout in (None, layout):
        x = batch.x.clone().requires_grad_(True)
        conv.zero_grad()
        out = conv(x, batch.edge_index, batch.edge_type, path_layout)
        weights = torch.linspace(-1, 1, out.numel(), dtype=out.dtype, device=device)
        (out * weights.view_as(out)).sum().backward()
        grads = [x.grad] + [p.grad.clone() for p in conv.parameters()]
        results.append((out.detach(), grads))
    (sparse, sparse_grads), (dense, dense_grads) = results
    assert (sparse - dense).abs().max() <= 1e-5
    for a, b in zip(sparse_grads, dense_grads, strict=True):
        assert (a - b).abs().max() <= 1e-5
    for table in type_tables:
        assert table.grad.abs().sum() > 0
    if kind == "dependency+complete" and encoder != "hybrid":
        # relation rows get gradient, not only offsets
        nsubj = GraphBuilder(kind, relations=RELATIONS).type_id["dependency:nsubj"]
        assert type_tables[0].grad[nsubj].abs().sum() > 0


def test_hybrid_without_local_conv_is_the_transformer_block():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(4)
    union = complete_batch([6, 1, 9], HIDDEN, gen, "dependency+complete")
    types = len(GraphBuilder("dependency+complete", relations=RELATIONS).edge_types)
    hybrid = Block(make_conv("hybrid", HIDDEN, HEADS, types, 0.0, local="none"), HIDDEN, FFN, 0.0)
    plain = Block(make_conv("transformer", HIDDEN, HEADS, types, 0.0), HIDDEN, FFN, 0.0)
    hybrid.double().eval()
    plain.double().eval()
    torch.nn.init.normal_(hybrid.conv.attention.type_bias.weight, std=1.0, generator=gen)
    plain.load_state_dict({k.replace("conv.attention.", "conv."): v
                           for k, v in hybrid.state_dict().items()})
    # the transformer on the complete graph: same edges, each with its complete-part type
    complete_type = union.edge_type[:, -1]
    for layout in (None, complete_layout(union.edge_index, union.edge_type, union.batch)):
        with torch.no_grad():
            a = hybrid(union.x, union.edge_index, union.edge_type, layout)
            b = plain(union.x, union.edge_index, complete_type,
                      None if layout is None else layout.part(-1))
        assert torch.equal(a, b)
    # and switching the local conv on changes the output
    with_local = Block(make_conv("hybrid", HIDDEN, HEADS, types, 0.0, local="gcn"), HIDDEN, FFN, 0.0)
    with_local.double().eval().load_state_dict(hybrid.state_dict(), strict=False)
    with torch.no_grad():
        c = with_local(union.x, union.edge_index, union.edge_type)
    assert (c - a).abs().max() > 1e-3


def test_dense_layout_only_for_complete_graphs():
    gen = torch.Generator().manual_seed(0)
    batch = complete_batch([3, 5], HIDDEN, gen)
    ei, et, b, n = batch.edge_index, batch.edge_type, batch.batch, batch.num_nodes
    layout = complete_layout(ei, et, b)
    assert layout is not None and layout.mask.sum() == n
    assert layout.types[0, 0, 2] == et[(ei[0] == 2) & (ei[1] == 0)]  # source 2 -> target 0
    order = torch.randperm(ei.size(1), generator=gen)
    shuffled = complete_layout(ei[:, order], et[order], b)
    assert torch.equal(shuffled.types, layout.types)
    assert complete_layout(ei[:, 1:], et[1:], b) is None
    duplicated = ei.clone()
    duplicated[:, 0] = duplicated[:, 1]  # same count, one pair missing
    assert complete_layout(duplicated, et, b) is None
    window = GraphBuilder("window", window=1).build(ParsedText(list("abcd")))
    assert complete_layout(torch.from_numpy(window.edge_index), torch.from_numpy(window.edge_type),
                           torch.zeros(4, dtype=torch.long)) is None


def test_dense_layout_shares_types_that_depend_on_positions_only():
    # complete graphs of mixed sizes: relative offsets, one (1, n, n) pattern for the batch
    gen = torch.Generator().manual_seed(3)
    batch = complete_batch([3, 5, 4], HIDDEN, gen)
    ei, et = batch.edge_index, batch.edge_type
    layout = complete_layout(ei, et, batch.batch)
    assert layout.types.shape == (1, 5, 5)
    slot = torch.arange(batch.num_nodes) - batch.ptr[batch.batch]
    assert torch.equal(layout.types[0, slot[ei[1]], slot[ei[0]]], et)  # every edge's own type
    # graphs of 4 and 2 nodes: a difference on padding pairs is ignored, on a real pair not
    mask = torch.arange(4) < torch.tensor([[4], [2]])
    types = torch.zeros(2, 4, 4, dtype=torch.long)
    types[1, 3, 3] = 1
    assert DenseLayout(mask, types, torch.arange(6)).types.shape == (1, 4, 4)
    types[1, 1, 0] = 2
    assert DenseLayout(mask, types, torch.arange(6)).types.shape == (2, 4, 4)
    # a union whose first part differs per graph: shared as a whole no, its second part yes
    union = torch.stack([types, torch.zeros_like(types)], -1)
    layout = DenseLayout(mask, union, torch.arange(6))
    assert layout.types.shape == (2, 4, 4, 2) and layout.part(-1).types.shape == (1, 4, 4)


# where CPU's SDPA runs its math backend: with dropout, or with a bias needing a gradient
@pytest.mark.parametrize(("mask_kind", "dropout"), [("padding", 0.1), ("bias", 0.1), ("bias", 0.0),
                                                 ("unpadded", 0.1)])
def test_attention_math_is_bit_identical_to_sdpa_on_cpu(mask_kind, dropout):
    # float32 as in training: the written-out ops must repeat the backend's rounding exactly,
    # or recorded runs of the transformer on complete graphs would no longer reproduce
    gen = torch.Generator().manual_seed(5)
    q, k, v = (torch.randn(3, HEADS, 9, 8, generator=gen) for _ in range(3))
    real = torch.arange(9) < torch.tensor([[9], [4], [1]])  # (B, n): graphs of 9, 4, 1 nodes
    # (B, n, n, heads) permuted, as gathered from the edge-type table
    bias = torch.randn(3, 9, 9, HEADS, generator=gen).permute(0, 3, 1, 2)
    keep = None if mask_kind == "unpadded" else real[:, None, None, :]
    results = []
    for ours in (False, True):
        inputs = [t.clone().requires_grad_(True) for t in (q, k, v, bias)]
        with_bias = None if mask_kind == "padding" else inputs[3]
        torch.manual_seed(0)  # the same dropout draws for both
        if ours:
            out = attention_math(*inputs[:3], keep, with_bias, dropout)
        elif keep is None:
            out = nn.functional.scaled_dot_product_attention(*inputs[:3], attn_mask=with_bias,
                                                              dropout_p=dropout)
        else:
            mask = keep if with_bias is None else with_bias.masked_fill(~keep, float("-inf"))
            out = nn.functional.scaled_dot_product_attention(*inputs[:3], attn_mask=mask,
                                                              dropout_p=dropout)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        results.append([out, *(t.grad for t in inputs[:3 if mask_kind == "padding" else 4])])
    for a, b in zip(*results, strict=True):
        assert torch.equal(a, b)
    assert results[0][1].abs().sum() > 0


@pytest.mark.parametrize("kind", ["dependency", "dependency+complete"])
def test_gat_edge_term_per_type_equals_pyg_per_edge(kind):
    # the projection of edge embeddings runs once per type and is gathered per edge; PyG's
    # GATConv projects every edge's embedding: the same attention, outputs and gradients
    gen = torch.Generator().manual_seed(6)
    types = len(GraphBuilder(kind, relations=RELATIONS).edge_types)
    ours = make_conv("gat", HIDDEN, HEADS, types, attention_dropout=0.0).double()
    stock = GATConv(HIDDEN, HIDDEN // HEADS, heads=HEADS, add_self_loops=False,
                    edge_dim=EDGE_DIM).double()
    stock.load_state_dict(ours.conv.state_dict())
    batch = complete_batch([5, 8], HIDDEN, gen, kind)
    keep = torch.rand(batch.num_edges, generator=gen) < 0.6  # a sparse graph
    edge_index, edge_type = batch.edge_index[:, keep], batch.edge_type[keep]
    def embedded():  # a union's edge has one embedding per part, summed
        rows = ours.edge_embedding(edge_type)
        return rows.sum(-2) if edge_type.dim() == 2 else rows

    outputs = []
    for forward in (lambda x: ours(x, edge_index, edge_type),
                    lambda x: stock(x, edge_index, embedded())):
        x = batch.x.clone().requires_grad_(True)
        ours.zero_grad()
        stock.zero_grad()
        out = forward(x)
        (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum().backward()
        outputs.append([out, x.grad, ours.edge_embedding.weight.grad.clone()])
    for a, b in zip(*outputs, strict=True):
        assert (a - b).abs().max() <= 1e-10
    assert outputs[0][2].abs().sum() > 0


@pytest.mark.parametrize("union", [False, True])
def test_dense_type_gather_repeats_the_row_gather_bit_for_bit(union):
    # the column gather must give the values of gathering rows, and sum the gradient in the
    # same order: the two may be swapped without changing a trained model
    gen = torch.Generator().manual_seed(7)
    types = torch.randint(0, 18, (3, 40, 40, *((2,) if union else ())), generator=gen)
    layout = DenseLayout(torch.ones(3, 40, dtype=torch.bool), types, torch.arange(120))
    table = torch.randn(18, HEADS, generator=gen)
    upstream = torch.randn(3, 40, 40, HEADS, generator=gen)
    results = []
    for gather in (lambda t: layout.gather_types(t).permute(0, 2, 3, 1),
                   lambda t: _type_rows(t, types, union)):
        t = table.clone().requires_grad_(True)
        out = gather(t)
        (out * upstream).sum().backward()
        results.append((out.detach(), t.grad))
    (a, grad_a), (b, grad_b) = results
    assert torch.equal(a, b) and torch.equal(grad_a, grad_b)
    assert grad_a.abs().sum() > 0
