"""Pictures of what a network does, with the engine's own numbers: graphs, network diagrams,
backpropagation step by step, and training curves.

matplotlib is imported only inside the functions that draw with it, so ``import biograd.viz`` stays light.
"""

from biograd.viz._draw import Picture
from biograd.viz.backprop import BackpropSteps, backprop
from biograd.viz.graph import graph
from biograd.viz.network import network

__all__ = ["BackpropSteps", "Picture", "backprop", "graph", "network"]
