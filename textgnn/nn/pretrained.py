"""Models that contain a pretrained Hugging Face encoder and fine-tune it.

* ``model.encoder=finetune``: the baseline to beat, the encoder itself with a classification
  head on its mean-pooled last layer;
* ``model.features=contextual`` with ``model.tune_pretrained``: a graph encoder whose node
  features are the encoder's states, averaged over each parser token's sub-words, trained
  end to end (the encoder at ``train.pretrained_lr``);
* ``model.mix`` = lambda in [0, 1] (BertGCN's interpolation, here inductive): both heads,
  ``lambda * graph logits + (1 - lambda) * encoder logits``.

Batches are ordinary PyG batches of :class:`TextData`, so training, evaluation, saving and
loading are those of every other model.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.utils import scatter, to_dense_batch

from ..config import ModelConfig


class TextData(Data):
    """A token graph plus the text's sub-word ids and the token <-> sub-word alignment.

    ``sub_ids`` (S,), ``sub_graph`` (S,) zeros that batching turns into the graph index,
    ``align_node`` / ``align_sub`` (P,) pairs of a node and a sub-word overlapping it.
    """

    def __inc__(self, key, value, *args, **kwargs):
        if key == "sub_graph":
            return 1
        if key == "align_sub":
            return self.sub_ids.size(0)
        if key == "align_node":
            return self.num_nodes
        return super().__inc__(key, value, *args, **kwargs)


class PretrainedEncoderClassifier(nn.Module):
    r"""Encoder states :math:`s` feed a graph head, a sequence head, or both:

    .. math::
        x^{(0)}_i = \frac{1}{|P_i|}\sum_{t \in P_i} s_t,\qquad
        \mathrm{logits} = \lambda\,\mathrm{Backbone}(x^{(0)}, G)
        + (1-\lambda)\,W\,\mathrm{Dropout}(\mathrm{mean}_t\, s_t)

    with :math:`P_i` the sub-words overlapping token :math:`i`. ``backbone`` is None for the
    plain fine-tuned encoder (:math:`\lambda = 0`).
    """

    def __init__(self, cfg: ModelConfig, num_classes: int, directory: str, load_weights: bool,
                 pad_id: int, backbone: nn.Module | None):
        super().__init__()
        from transformers import AutoConfig, AutoModel

        if load_weights:
            self.encoder = AutoModel.from_pretrained(directory, use_safetensors=True)
        else:
            self.encoder = AutoModel.from_config(AutoConfig.from_pretrained(directory))
        self.pad_id, self.layers = pad_id, list(cfg.pretrained_layers)
        self.mix = 0.0 if backbone is None else (1.0 if cfg.mix is None else cfg.mix)
        self.backbone = backbone
        self.head = None
        if self.mix < 1:
            self.dropout = nn.Dropout(cfg.dropout)
            self.head = nn.Linear(self.encoder.config.hidden_size, num_classes)

    def pretrained_parameters(self) -> list[nn.Parameter]:
        return list(self.encoder.parameters())

    def forward(self, batch) -> Tensor:
        ids, mask = to_dense_batch(batch.sub_ids, batch.sub_graph, fill_value=self.pad_id,
                                   batch_size=batch.num_graphs)
        out = self.encoder(input_ids=ids, attention_mask=mask.long(),
                           output_hidden_states=self.backbone is not None)
        logits = 0.0
        if self.head is not None:
            states = out.last_hidden_state
            keep = mask.unsqueeze(-1).to(states.dtype)
            pooled = (states * keep).sum(1) / keep.sum(1).clamp(min=1)
            logits = (1 - self.mix) * self.head(self.dropout(pooled))
        if self.backbone is not None:
            layers = torch.stack([out.hidden_states[k] for k in self.layers]).mean(0)[mask]
            nodes = scatter(layers[batch.align_sub], batch.align_node, dim=0,
                            dim_size=batch.num_nodes, reduce="mean")
            logits = logits + self.mix * self.backbone(batch, nodes)
        return logits

    def parameter_counts(self) -> dict[str, int]:
        count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
        graph = count(self.backbone) if self.backbone is not None else 0
        return {"total": count(self), "pretrained": count(self.encoder), "graph": graph}
