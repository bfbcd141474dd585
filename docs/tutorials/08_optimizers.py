# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 8. Optimizers: SGD, momentum, Adam
#
# An **optimizer** is the rule that turns gradients into weight changes. Three you will meet everywhere:
#
# - **SGD** (plain gradient descent): w ← w - lr · g, where g = dL/dw.
# - **SGD with momentum**: keeps a running sum of past gradients (a *velocity*) and steps along it, like a
#   ball rolling downhill that gathers speed: v ← μ·v + g, then w ← w - lr · v. μ = 0.9 is typical.
# - **Adam**: gives every weight its own step size. It divides a running average of the gradient by a
#   running average of its size, so every weight moves about lr per step, whether its gradient is tiny or
#   huge. A good default.
#
# First, on a 2-weight loss surface shaped like a long narrow valley (many real losses look like this):

# %%
# %matplotlib inline
import warnings

import numpy as np
from matplotlib.figure import Figure
from sklearn.preprocessing import StandardScaler

import biograd
from biograd import datasets, nn, viz
from biograd.optim import SGD, Adam
from biograd.training import ConvergenceWarning

viz.optimizer_paths()

# %% [markdown]
# Plain SGD zig-zags across the narrow valley. It cannot take bigger steps without diverging across it
# (tutorial 7). Momentum cancels the zig-zag and speeds up along the valley. Adam adapts the step of each
# weight.
#
# ## The same comparison on real data
#
# One network, one set of starting weights, three optimizers, on the breast-cancer data:

# %%
cancer = datasets.breast_cancer()
x = StandardScaler().fit_transform(cancer.x)
curves = {}
for name in ["SGD", "SGD + momentum 0.9", "Adam"]:
    biograd.manual_seed(0)  # the same starting weights for all three
    model = nn.MLP([30, 16, 1])
    if name == "SGD":
        optimizer = SGD(model.parameters(), lr=0.01)
    elif name == "SGD + momentum 0.9":
        optimizer = SGD(model.parameters(), lr=0.01, momentum=0.9)
    else:
        optimizer = Adam(model.parameters(), lr=0.01)
    with warnings.catch_warnings():  # fit warns that the loss still falls: we stop at 15 epochs on purpose
        warnings.simplefilter("ignore", ConvergenceWarning)
        history = biograd.fit(
            model, x, cancer.y, optimizer=optimizer, epochs=15, validation_split=0, seed=0, verbose=False
        )
    curves[name] = history.history["loss"]

fig = Figure(figsize=(6.5, 4), layout="constrained")
ax = fig.subplots()
for (name, loss), style in zip(curves.items(), ["-o", "--s", ":^"], strict=True):
    ax.plot(range(1, 16), loss, style, label=name)
ax.set_yscale("log")
ax.set_xlabel("epoch")
ax.set_ylabel("training loss (cross-entropy, log scale)")
ax.set_title("Three optimizers, same network, same start (lr 0.01)")
ax.legend()
fig

# %% [markdown]
# With the same lr, momentum and Adam get much further than plain SGD in 15 epochs. Plain SGD would need
# a larger lr or many more epochs. In `biograd.fit`, choose with `optimizer="sgd"`, `"adam"`, `"adamw"`
# (Adam with weight decay, tutorial 9) or an optimizer object, as above.
#
# ## Two rules you can check by hand
#
# **Adam's first step** moves every weight by lr, whatever its gradient: at step 1 the averages are just
# g and g², and g / sqrt(g²) = ±1.

# %%
biograd.manual_seed(0)
model = nn.MLP([30, 16, 1])
before = [p.data.copy() for p in model.parameters()]
adam = Adam(model.parameters(), lr=0.01)
loss = nn.BCEWithLogitsLoss()(model(x), biograd.tensor(cancer.y.reshape(-1, 1).astype(np.float32)))
loss.backward()
adam.step()
moves = np.concatenate([np.abs(p.data - b).ravel() for p, b in zip(model.parameters(), before, strict=True)])
grads = np.concatenate([p.grad.ravel() for p in model.parameters()])
print("largest gradient:", np.abs(grads).max(), " smallest non-zero:", np.abs(grads[grads != 0]).min())
print("how far each weight moved: between", moves[grads != 0].min(), "and", moves.max())

# %% [markdown]
# **Momentum gathers speed.** With a gradient that never changes (a steady slope, g = 3), the velocity
# grows to g / (1 - μ) = 10 g for μ = 0.9: steps 10 times larger than plain SGD's.

# %%
w = biograd.tensor(0.0, requires_grad=True, dtype=np.float64)
momentum = SGD([w], lr=0.01, momentum=0.9)
positions = [0.0]
for _ in range(60):
    momentum.zero_grad()
    (3.0 * w).backward()  # L = 3w, so dL/dw = 3 at every step
    momentum.step()
    positions.append(w.item())
print("step sizes:", np.round(-np.diff(positions)[[0, 1, 2, 10, 59]], 4), "   plain SGD: always", 0.01 * 3)

# %% [markdown]
# ## Check

# %%
last = {name: loss[-1] for name, loss in curves.items()}
assert last["Adam"] < last["SGD"] / 2 and last["SGD + momentum 0.9"] < last["SGD"] / 2
assert np.allclose(moves[grads != 0], 0.01, rtol=1e-3), "Adam's first step is lr for every weight"
assert abs(-np.diff(positions)[0] - 0.01 * 3) < 1e-12, "the first momentum step is plain SGD's"
# after t steps the velocity is g (1 + mu + ... + mu^(t-1)) = g (1 - mu^t) / (1 - mu)
t = 60
assert abs(-np.diff(positions)[-1] - 0.01 * 3 * (1 - 0.9**t) / (1 - 0.9)) < 1e-9
print("All checks passed.")
