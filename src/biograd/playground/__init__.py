"""``biograd playground``: watch a network learn, live, with every number one click away.

A local web page (served by the standard library's HTTP server, on 127.0.0.1 only, behind a random token)
shows a small network training on two-marker cell populations, a dose-response surface or your own table:
each hidden neuron's output over the input plane, the decision surface, the weights, the loss curves. Click
a neuron or a weight for its forward value, its delta, dL/dw and the update w <- w - lr * dL/dw, all from
biograd's engine. Export a Python script that reproduces the session, its PyTorch twin, the trained model
(``biograd.save``) and a self-contained HTML replay.

>>> from biograd.playground import Session
>>> s = Session()
>>> s.step(5)
"""

from biograd.playground.session import Session
from biograd.playground.settings import Settings, SettingsError

__all__ = ["Session", "Settings", "SettingsError"]
