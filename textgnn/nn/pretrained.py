"""The baseline to beat: a pretrained Transformer fine-tuned for classification.

It reads the same batches as the graph models (a PyG ``Batch`` whose ``x`` holds each
text's sub-word ids and no edges), so training, evaluation, saving and loading go through
the same code; only the node ids are sub-words of the pretrained tokenizer.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch_geometric.utils import to_dense_batch

from ..config import ModelConfig


class PretrainedClassifier(nn.Module):
    r"""A Hugging Face encoder, mean-pooled over real sub-words, then dropout and a linear
    head: :math:`\mathrm{logits} = W\,\mathrm{mean}_{t}\,\mathrm{Encoder}(s)_t + b`.

    Mean pooling matches how sentence encoders such as all-MiniLM-L6-v2 were trained.
    ``directory`` holds the encoder's ``config.json``; with ``load_weights`` its pretrained
    weights are read too (training), otherwise they come from the saved state (loading).
    """

    def __init__(self, cfg: ModelConfig, num_classes: int, directory: str, load_weights: bool,
                 pad_id: int):
        super().__init__()
        from transformers import AutoConfig, AutoModel

        if load_weights:
            self.encoder = AutoModel.from_pretrained(directory, use_safetensors=True)
        else:
            self.encoder = AutoModel.from_config(AutoConfig.from_pretrained(directory))
        self.pad_id = pad_id
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(self.encoder.config.hidden_size, num_classes)

    def pretrained_parameters(self) -> list[nn.Parameter]:
        return list(self.encoder.parameters())

    def forward(self, batch) -> Tensor:
        ids, mask = to_dense_batch(batch.x, batch.batch, fill_value=self.pad_id)
        states = self.encoder(input_ids=ids, attention_mask=mask.long()).last_hidden_state
        keep = mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * keep).sum(1) / keep.sum(1).clamp(min=1)
        return self.head(self.dropout(pooled))

    def parameter_counts(self) -> dict[str, int]:
        count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
        return {"total": count(self), "pretrained": count(self.encoder), "head": count(self.head)}
