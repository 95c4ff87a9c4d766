"""textgnn: text classification with graph neural networks.

A text becomes a token graph (dependency, window or complete); one message-passing
backbone reads it with an interchangeable conv (GCN, GAT, Transformer).

The public names below are imported on first use (PEP 562), so ``import textgnn`` and the
command line's fast paths (``--help``, a config error) do not pay for torch, PyG and spaCy.
"""

import importlib

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS = {
    "Config": "config", "load_config": "config", "TextGNNError": "errors",
    "GraphBuilder": "graphs", "TokenGraph": "graphs", "ParsedText": "parsing",
    "Parser": "parsing", "Pipeline": "pipeline", "load": "pipeline", "train": "training",
}
__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    try:  # a submodule (textgnn.data, ...) used as an attribute after `import textgnn`
        return importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError:
        raise AttributeError(f"module 'textgnn' has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted(__all__)
