"""textgnn: text classification with graph neural networks.

A text becomes a token graph (dependency, window or complete); one message-passing
backbone reads it with an interchangeable conv (GCN, GAT, Transformer).
"""

__version__ = "0.1.0"

from .config import Config, load_config  # noqa: E402
from .errors import TextGNNError  # noqa: E402
from .graphs import GraphBuilder, TokenGraph  # noqa: E402
from .parsing import ParsedText, Parser  # noqa: E402
from .pipeline import Pipeline, load  # noqa: E402
from .training import train  # noqa: E402

__all__ = [
    "Config",
    "GraphBuilder",
    "ParsedText",
    "Parser",
    "Pipeline",
    "TextGNNError",
    "TokenGraph",
    "__version__",
    "load",
    "load_config",
    "train",
]
