"""Neural networks: neurons, layers, activations, losses (built on the engine in biograd.tensor).

A neuron computes y = activation(x·w^T + b); :class:`Linear` is a layer of them, :class:`Sequential` and
:class:`MLP` stack layers, losses measure the error, and ``init`` chooses the starting weights.
Architectures are data: ``to_config(model)`` / ``from_config(config)`` (used by ``biograd.save``).
"""

from biograd.nn import init
from biograd.nn.activation import (
    GELU,
    Identity,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
    get_activation,
)
from biograd.nn.committee import Committee, SelectFeatures
from biograd.nn.conv import Conv1d, GlobalMaxPool1d, MaxPool1d
from biograd.nn.layers import MLP, Dropout, Flatten, Linear, Neuron, Sequential, Standardize
from biograd.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    get_loss,
)
from biograd.nn.module import Module, Parameter, from_config, register_layer, registered_layers, to_config
from biograd.nn.summary import LayerSummary, Summary, summary

__all__ = [
    "GELU",
    "MLP",
    "BCELoss",
    "BCEWithLogitsLoss",
    "Committee",
    "Conv1d",
    "CrossEntropyLoss",
    "Dropout",
    "Flatten",
    "GlobalMaxPool1d",
    "Identity",
    "L1Loss",
    "LayerSummary",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "MaxPool1d",
    "Module",
    "NLLLoss",
    "Neuron",
    "Parameter",
    "ReLU",
    "SelectFeatures",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Standardize",
    "Summary",
    "Tanh",
    "from_config",
    "get_activation",
    "get_loss",
    "init",
    "register_layer",
    "registered_layers",
    "summary",
    "to_config",
]
