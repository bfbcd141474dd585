"""Neural networks: neurons, layers, activations, losses (built on the engine in biograd.tensor)."""

from biograd.nn.module import Module, Parameter

__all__ = ["Module", "Parameter"]
