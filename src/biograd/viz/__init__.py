"""Pictures of what a network does, with the engine's own numbers: graphs, network diagrams,
backpropagation step by step, and training curves.

matplotlib is imported only inside the functions that draw with it, so ``import biograd.viz`` stays light.
"""

from biograd.viz._draw import Picture
from biograd.viz.backprop import BackpropSteps, backprop
from biograd.viz.graph import graph
from biograd.viz.network import network
from biograd.viz.plots import (
    activation_functions,
    decision_boundary,
    fitting_regimes,
    gradient_descent_variants,
    learning_rates,
    loss_curves,
    optimizer_paths,
    regression_fit,
)

__all__ = [
    "BackpropSteps",
    "Picture",
    "activation_functions",
    "backprop",
    "decision_boundary",
    "fitting_regimes",
    "gradient_descent_variants",
    "graph",
    "learning_rates",
    "loss_curves",
    "network",
    "optimizer_paths",
    "regression_fit",
]
