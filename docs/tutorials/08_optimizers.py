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
# - **SGD with momentum**: keeps a *velocity* v and steps along it, like a ball rolling downhill that
#   gathers speed: v ← μ·v + g, then w ← w - lr · v. μ = 0.9 is typical. v is a running *sum* that
#   favours recent gradients, not an average: with a steady gradient g it grows to g / (1 - μ) = 10 g.
# - **Adam**: gives every weight its own step size. It keeps two running averages, m of the gradient and
#   v of the *squared* gradient, and steps by lr · m / sqrt(v): the square root of an average of g² is the
#   gradient's typical size, so every weight moves about lr per step, whether its gradient is tiny or
#   huge. A good default.
#
# A word on names. In tutorial 7, "stochastic gradient descent" meant *one sample per step*. Here, as in
# PyTorch (`torch.optim.SGD`) and in biograd (`biograd.optim.SGD`), `SGD` names the *update rule*
# w ← w - lr · g, whatever the batch: full batch, one sample or a mini-batch. The batch size is chosen
# separately (`batch_size=` in `biograd.fit`).
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
# Read the legend first: each optimizer runs 60 steps from the same start (X) with **its own learning
# rate**, SGD 0.45, momentum 0.05 and Adam 0.3, each about as large as that optimizer tolerates on this
# surface. SGD's 0.45 sits just under its limit, 2 / (largest curvature) = 2 / 4.065 = 0.49 (tutorial 7):
# that is why it zig-zags across the narrow valley while it moves along it. Momentum gathers speed along
# the valley, but its velocity carries it past the minimum (★): it loops around it and is still
# circling after 60 steps. Adam takes steps of about lr in each direction and spirals in.
#
# After 60 steps the final losses are SGD 0.0914 < Adam 0.0927 < momentum 0.101 (the minimum is 0.0909).
# So on this surface plain SGD ends lowest and momentum highest: one picture is not a ranking of
# optimizers. Momentum pays off when the gradient keeps pointing the same way for many steps, as on the
# real data below and on the steady slope at the end of this tutorial; where the valley turns, the
# velocity overshoots.
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
# (Adam with decoupled weight decay, explained at the end of this tutorial) or an optimizer object, as
# above.
#
# ## Adam, three steps by hand
#
# Adam's rule for one weight at step t = 1, 2, 3, ..., with g = dL/dw (β1 = 0.9, β2 = 0.999 by default):
#
# $$m \leftarrow \beta_1 m + (1-\beta_1)\,g \qquad v \leftarrow \beta_2 v + (1-\beta_2)\,g^2$$
#
# $$\hat m = \frac{m}{1-\beta_1^t} \qquad \hat v = \frac{v}{1-\beta_2^t} \qquad
#   w \leftarrow w - \text{lr}\cdot\frac{\hat m}{\sqrt{\hat v} + \epsilon}$$
#
# m and v start at 0, so the first averages are far too small: after step 1, m = 0.1 g and v = 0.001 g².
# The **bias correction** divides them by 1 - β^t, which at t = 1 gives back exactly m̂ = g and v̂ = g².
# Here is one weight whose gradient is 2, then 1, then -0.5, computed with numpy from the formulas and
# compared with `biograd.optim.Adam`:

# %%
import pandas as pd

lr, beta1, beta2, eps = 0.1, 0.9, 0.999, 1e-8
gradients = [2.0, 1.0, -0.5]
w_hand, m, v, rows = 1.0, 0.0, 0.0, []
for t, g in enumerate(gradients, start=1):
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g**2
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    step = lr * m_hat / (np.sqrt(v_hat) + eps)
    w_hand -= step
    rows.append(dict(t=t, g=g, m=m, v=v, m_hat=m_hat, v_hat=v_hat, step=step, w=w_hand))
table = pd.DataFrame(rows).set_index("t")

w_adam = biograd.tensor(1.0, requires_grad=True, dtype=np.float64)
adam_one = Adam([w_adam], lr=lr)
w_biograd = []
for g in gradients:
    adam_one.zero_grad()
    (g * w_adam).backward()  # L = g·w, so dL/dw = g
    adam_one.step()
    w_biograd.append(w_adam.item())
table["w (biograd.optim.Adam)"] = w_biograd
table.round(5)

# %% [markdown]
# Read the rows: at t = 1 the step is exactly lr = 0.1 although g = 2 (m̂ / sqrt(v̂) = g / |g| = 1). At
# t = 2 the gradient halved, yet the step is still about lr: Adam follows the gradient's *direction and
# consistency*, not its size. At t = 3 the gradient flips sign, but m̂ still remembers the two positive
# gradients, so the weight keeps moving the same way, by less.
#
# **Adam's first step** is therefore lr for every weight of a real network, whatever its gradient:

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
# ## Adam + L2 vs AdamW
#
# *Weight decay* pulls weights towards 0 to fight overfitting (tutorial 9). There are two ways to add it
# to Adam, and they are not the same:
#
# - **Adam + L2** (`Adam(..., weight_decay=λ)`, "coupled"): add λ·w to the gradient, g ← g + λ·w, then
#   do Adam's step. The decay goes through m̂ / sqrt(v̂), so it is rescaled like everything else: a
#   weight with large gradients (large v̂) is barely decayed, and a weight with no gradient at all moves
#   by a full lr towards 0 at the first step.
# - **AdamW** (`AdamW(..., weight_decay=λ)`, `optimizer="adamw"` in `biograd.fit`, "decoupled"): shrink
#   the weight itself, w ← w·(1 - lr·λ), then do Adam's step with the plain gradient. Every weight
#   decays by the same fraction, whatever its gradient history.
#
# One weight w = 2 with lr = 0.1, λ = 0.01, and a loss that does not depend on it (g = 0):

# %%
from biograd.optim import AdamW

after_one_step = {}
for name, make in [("Adam + L2", Adam), ("AdamW", AdamW)]:
    w_decay = biograd.tensor(2.0, requires_grad=True, dtype=np.float64)
    opt = make([w_decay], lr=0.1, weight_decay=0.01)
    (0.0 * w_decay).backward()  # g = 0: only the weight decay moves w
    opt.step()
    after_one_step[name] = w_decay.item()
print(after_one_step)

# %% [markdown]
# Adam + L2 turned the tiny decay gradient λ·w = 0.02 into a full step of lr = 0.1 (2 → 1.9): Adam
# normalizes it. AdamW shrank w by the fraction lr·λ = 0.001 (2 → 1.998), the same fraction for every
# weight. AdamW is what "weight decay" means in most recent papers; tutorial 9 uses the coupled
# `Adam(weight_decay=0.1)`.
#
# ## Predict, then run
#
# 1. On the steady slope above, what step size will momentum μ = 0.99 reach after very many steps, with
#    lr = 0.01 and g = 3? Write your guess, then run the cell.
# 2. If Adam sees a gradient of 1000 at step 1 instead of 2, how far does the weight move?

# %%
w = biograd.tensor(0.0, requires_grad=True, dtype=np.float64)
fast = SGD([w], lr=0.01, momentum=0.99)
trail = [0.0]
for _ in range(3000):
    fast.zero_grad()
    (3.0 * w).backward()
    fast.step()
    trail.append(w.item())
print("momentum 0.99, last step:", -np.diff(trail)[-1])

w_big = biograd.tensor(1.0, requires_grad=True, dtype=np.float64)
big = Adam([w_big], lr=0.1)
(1000.0 * w_big).backward()
big.step()
print("Adam, first step with g = 1000:", 1.0 - w_big.item())

# %% [markdown]
# Answers: 1. g·lr / (1 - μ) = 3 · 0.01 / 0.01 = 3, one hundred times plain SGD's 0.03.
# 2. lr = 0.1, exactly as with g = 2: Adam's first step does not depend on the gradient's size.
#
# ## Check
# The text above the first figure states the order of the final losses and the learning rates; the
# checks below read them back from the figure itself.

# %%
import re

paths = viz.optimizer_paths()
finals = {}
for line in paths.axes[0].lines:
    found = re.match(r"(.+) \(lr ([\d.]+)\): final loss ([\d.]+)", line.get_label())
    if found:
        finals[found[1]] = (float(found[2]), float(found[3]))
assert [name for name in sorted(finals, key=lambda n: finals[n][1])] == ["SGD", "Adam", "SGD + momentum 0.9"]
assert {n: lr for n, (lr, _) in finals.items()} == {"SGD": 0.45, "SGD + momentum 0.9": 0.05, "Adam": 0.3}
curvature = np.linalg.eigvalsh(np.array([[0.2, 0.5], [0.5, 4.0]])).max()  # Hessian of the valley
assert 0.45 < 2 / curvature < 0.5, "SGD's lr is just under its limit"
last = {name: loss[-1] for name, loss in curves.items()}
assert last["Adam"] < last["SGD"] / 2 and last["SGD + momentum 0.9"] < last["SGD"] / 2
assert np.allclose(table["w"], table["w (biograd.optim.Adam)"], rtol=0, atol=1e-12), "Adam = its formula"
assert abs(table.loc[1, "step"] - lr) < 1e-9 and abs(table.loc[1, "m_hat"] - 2.0) < 1e-12
assert np.allclose(moves[grads != 0], 0.01, rtol=1e-3), "Adam's first step is lr for every weight"
assert abs(-np.diff(positions)[0] - 0.01 * 3) < 1e-12, "the first momentum step is plain SGD's"
# after t steps the velocity is g (1 + mu + ... + mu^(t-1)) = g (1 - mu^t) / (1 - mu)
t = 60
assert abs(-np.diff(positions)[-1] - 0.01 * 3 * (1 - 0.9**t) / (1 - 0.9)) < 1e-9
assert abs(after_one_step["Adam + L2"] - (2.0 - 0.1)) < 1e-6, "coupled L2: a full Adam step"
assert abs(after_one_step["AdamW"] - 2.0 * (1 - 0.1 * 0.01)) < 1e-12, "decoupled: w (1 - lr λ)"
assert abs(-np.diff(trail)[-1] - 3.0) < 1e-6 and abs((1.0 - w_big.item()) - 0.1) < 1e-9
print("All checks passed.")
