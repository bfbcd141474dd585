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
# # 7. Gradient descent
#
# Backpropagation gives dL/dw for every weight (tutorial 6). **Gradient descent** uses it to take one
# step downhill:
#
# $$w \leftarrow w - \text{lr} \cdot \frac{dL}{dw}$$
#
# Two choices matter: the **learning rate** lr (how big a step) and the **batch** (how many samples the
# gradient is computed from).
#
# The data: diabetes progression after one year, predicted from body mass index (BMI) with one linear
# neuron, prediction = w · BMI + b. Both are standardized (mean 0, standard deviation 1), which also makes
# the numbers below simple.

# %%
# %matplotlib inline
import math

import numpy as np

import biograd
from biograd import datasets, nn, viz

diabetes = datasets.diabetes()
bmi = diabetes.x[:, diabetes.feature_names.index("bmi")].astype(np.float64)
bmi = (bmi - bmi.mean()) / bmi.std()
progression = (diabetes.y - diabetes.y.mean()) / diabetes.y.std()

# %% [markdown]
# ## The update rule, written out
#
# One step uses all 442 patients (that is *batch* gradient descent). We run 30 steps with each of four
# learning rates:


# %%
def descend(lr, steps=30):
    w = biograd.tensor(0.0, requires_grad=True, dtype=np.float64)
    b = biograd.tensor(0.0, requires_grad=True, dtype=np.float64)
    x, y = biograd.tensor(bmi), biograd.tensor(progression)
    losses = []
    for _ in range(steps):
        loss = ((w * x + b - y) ** 2).mean()  # MSE
        losses.append(loss.item())
        w.grad = b.grad = None
        loss.backward()
        w.data -= lr * w.grad  # w <- w - lr * dL/dw
        b.data -= lr * b.grad
    return w.item(), b.item(), losses


runs = {lr: descend(lr) for lr in (0.01, 0.3, 0.9, 1.1)}
for lr, (w, _, losses) in runs.items():
    print(f"lr = {lr:4}: loss {losses[0]:.3f} -> {losses[-1]:.4g}   w = {w:.4g}")

# %% [markdown]
# - lr = 0.01: every step is too small; after 30 steps we are still far from the bottom.
# - lr = 0.3: fast and smooth.
# - lr = 0.9: each step overshoots the bottom, but by less each time, so it still settles.
# - lr = 1.1: each step overshoots by *more* than the last. The loss explodes: training **diverged**.
#
# For this simple loss the limit is known exactly: gradient descent settles only if lr < 2 / (the
# largest curvature of the loss). Here the loss is a bowl of curvature 2 in both directions, so the
# limit is lr < 1. In a real network nobody computes the limit: you watch the loss and lower lr if it
# blows up.
#
# The same lesson with a small network (biograd's own demo):

# %%
viz.learning_rates()

# %% [markdown]
# ## Batch, stochastic and mini-batch
#
# How many samples go into one gradient?
#
# - **Batch** gradient descent: all samples. One accurate step per pass over the data (an *epoch*).
# - **Stochastic** gradient descent (SGD): one sample. Many cheap, noisy steps per epoch.
# - **Mini-batch**: a small group, such as 32. The usual choice: fairly accurate and fast.
#
# In `biograd.fit` this is `batch_size="full"`, `1`, or a number. We count the steps of one epoch with a
# small callback:


# %%
class CountSteps(biograd.Callback):
    def on_train_begin(self, logs=None):
        self.steps = 0

    def on_batch_end(self, batch, logs=None):
        self.steps += 1


steps_per_epoch = {}
for batch_size in ("full", 1, 32):
    counter = CountSteps()
    biograd.manual_seed(0)
    biograd.fit(
        nn.Linear(1, 1),
        bmi.reshape(-1, 1),
        progression,
        optimizer="sgd",
        lr=0.01,
        epochs=1,
        batch_size=batch_size,
        validation_split=0,
        callbacks=[counter],
        verbose=False,
    )
    steps_per_epoch[batch_size] = counter.steps
print("gradient steps in one epoch of 442 patients:", steps_per_epoch)

# %% [markdown]
# With our 442 patients, one epoch is 1 step (batch), 442 steps (one sample at a time) or 14 steps
# (mini-batches of 32; the last one holds the 26 patients left over).
#
# The figure below is a separate, small experiment, so that the three curves can be compared in one
# picture: a 1-16-1 network on 128 points of a noisy curve, 15 epochs, the same starting weights, and a
# learning rate chosen for each variant (batch 0.15, stochastic 0.02, mini-batch 0.1; they are in the
# legend). There, one epoch is 1 step (batch), 128 steps (stochastic) or 8 steps (mini-batches of 16).

# %%
variants = viz.gradient_descent_variants()
variants

# %% [markdown]
# Per epoch (left), stochastic descent gets furthest: 128 small steps per epoch beat one accurate step,
# even with a learning rate 7.5 times smaller. The right panel measures seconds on the computer that
# drew it, so its numbers change from run to run; in general, computers handle 16 or 32 samples at once
# almost as fast as one, which is why mini-batches are the usual choice.
#
# ## Predict, then run
#
# In the table at the top, lr = 1.1 diverged. What will lr = 1.5 do after 30 steps, and will the loss
# be larger or smaller than with 1.1? Write your guess, then run the cell.

# %%
w_fast, _, losses_fast = descend(1.5)
print(f"lr = 1.5: loss {losses_fast[0]:.3f} -> {losses_fast[-1]:.4g}")

# %% [markdown]
# Answer: it diverges faster. In the direction of largest curvature each step multiplies the distance to
# the bottom by |1 - lr · 2| (2 is that curvature): 1.2 per step for lr = 1.1, 2 per step for lr = 1.5.
# The checks below test exactly this factor.
#
# ## Watch it live
#
# Everything above can be watched while it happens. In a terminal, run `biograd playground`: a page opens
# in your browser with a small network learning to gate two cell populations. Press play, then try this
# tutorial's experiments there: drag the learning rate up until the loss curve explodes (the lr = 1.5
# above), switch the batch size between "full batch", "1" and a mini-batch and compare how smooth the
# curves are, and click any weight to see its dL/dw and the update w <- w - lr * dL/dw with the numbers
# filled in, computed by the same engine as this notebook.
#
# ## Check
# Gradient descent with a good lr must reach the least-squares line (closed form, `np.polyfit`). The
# limit lr < 1 comes from the curvature of the loss: twice the largest eigenvalue of the matrix below.

# %%
slope, intercept = np.polyfit(bmi, progression, deg=1)
design = np.column_stack([bmi, np.ones_like(bmi)])
curvature = 2 * np.linalg.eigvalsh(design.T @ design / len(bmi)).max()  # of the MSE loss
w, b, losses = runs[0.3]
assert abs(w - slope) < 1e-4 and abs(b - intercept) < 1e-4, "lr = 0.3 reaches the best line"
assert abs(2 / curvature - 1.0) < 1e-6, "the limit is lr < 2 / curvature = 1"
assert runs[0.9][2][-1] < 1.0 < runs[1.1][2][-1] / runs[1.1][2][0], "0.9 settles, 1.1 blows up"
assert abs(runs[0.01][0] - slope) > 0.1, "lr = 0.01 is still far away after 30 steps"
assert steps_per_epoch == {"full": 1, 1: len(bmi), 32: math.ceil(len(bmi) / 32)}
assert steps_per_epoch[32] == 14 and len(bmi) - 13 * 32 == 26, "the text's numbers for 442 patients"
# the figure: 128 points, one label per variant with its learning rate; stochastic ends lowest per epoch
assert "128 points" in variants.get_suptitle()
per_epoch = {line.get_label(): line.get_ydata()[-1] for line in variants.axes[0].lines}
assert sorted(per_epoch) == sorted(
    ["batch (all samples), lr=0.15", "stochastic (1 sample), lr=0.02", "mini-batch (16), lr=0.1"]
)
assert min(per_epoch, key=per_epoch.get).startswith("stochastic")
# lr = 1.5: the loss grows by about (1 - 1.5 * 2)^2 = 4 per step (the squared distance), faster than 1.1
assert losses_fast[-1] > runs[1.1][2][-1]
assert abs(losses_fast[-1] / losses_fast[-2] - (1 - 1.5 * 2) ** 2) < 0.01
print("All checks passed.")
