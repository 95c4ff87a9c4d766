"""Neural modules: the conv registry and the shared backbone."""

from .backbone import POOLING, Backbone, Block
from .convs import CONVS, make_conv, register

__all__ = ["CONVS", "POOLING", "Backbone", "Block", "make_conv", "register"]
