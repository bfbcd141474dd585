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
# # 6. The chain rule and backpropagation
#
# Training needs dL/dw, how the loss changes with each weight (tutorial 2). A network is a chain of
# simple steps, and the **chain rule** gives the derivative of a chain: multiply the derivatives of the
# steps.
#
# $$\frac{d}{dx} f(g(x)) = \frac{df}{dg} \cdot \frac{dg}{dx}$$
#
# **Backpropagation** applies it from the loss back to every weight. Each step reuses the product
# computed so far, which is why it is fast.
#
# ## By hand: y = sin(x²)
#
# Call the inner step u = x². Then y = sin(u), and:
#
# - dy/du = cos(u)
# - du/dx = 2x
# - dy/dx = cos(u) · 2x = 2x cos(x²)
#
# At x = 1.5: 2 · 1.5 · cos(2.25) = -1.8845.

# %%
# %matplotlib inline
import numpy as np

import biograd
from biograd import datasets, nn, viz

# %% [markdown]
# ## By biograd
#
# `requires_grad=True` asks biograd to remember how each value was computed. `y.backward()` then runs the
# chain rule backwards, and `biograd.trace()` records every step with its numbers.

# %%
x = biograd.tensor(1.5, requires_grad=True, name="x")
u = x**2
u.name = "u"
y = u.sin()
y.name = "y"
with biograd.trace() as steps:
    y.backward()
print(steps)
print("x.grad =", x.grad, "   by hand:", 2 * 1.5 * np.cos(1.5**2))

# %% [markdown]
# Read it from the top. **What is L here?** The trace always writes gradients as dL/d(something), where
# L is the value `backward()` was called on. We called `y.backward()`, so here L *is* y: the trace starts
# with dL/dy = dy/dy = 1, and every later line is a derivative of y (dL/dx = dy/dx). In training, you
# call `loss.backward()`, and L is the loss.
#
# Step 1 starts at y with dL/dy = 1 and multiplies by the local derivative cos(u). Step 2 multiplies by
# 2x. The same thing as a picture: values flow left to right, gradients flow back.
#
# If we call `backward()` on L = 3·y instead, the trace starts at L (dL/dL = 1), the gradient arriving
# at y is dL/dy = 3, and every gradient after it is three times larger:

# %%
x3 = biograd.tensor(1.5, requires_grad=True)
L = 3 * (x3**2).sin()  # L = 3y
with biograd.trace() as steps_3y:
    L.backward()
print(steps_3y)
print("dL/dx with L = 3y:", x3.grad, "= 3 ×", x.grad)

# %%
viz.graph(y, trace=steps, title="y = sin(x²): values and gradients")

# %% [markdown]
# ## One training step of a real network
#
# A tiny network, 2 inputs -> 3 neurons (ReLU) -> 1 output, looks at one tumour through two of its
# measurements (mean radius and mean texture, standardized). It outputs a logit for "malignant" and is
# scored with cross-entropy (tutorial 5).
#
# `viz.backprop` runs one real training step and shows every number: the forward pass, the loss, the
# chain rule layer by layer, and the update w ← w - lr · dL/dw. Use the buttons or the ← → keys.
# (δ, "delta", is dL/dz: the gradient arriving at a neuron's weighted sum.)

# %%
cancer = datasets.breast_cancer()
columns = [cancer.feature_names.index("mean radius"), cancer.feature_names.index("mean texture")]
features = cancer.x[:, columns].astype(np.float64)
features = (features - features.mean(axis=0)) / features.std(axis=0)
sample, label = features[0], float(cancer.y[0])
print("tumour 0:", np.round(sample, 3), "malignant" if label else "benign")

biograd.manual_seed(1)
model = nn.MLP([2, 3, 1]).double()  # double precision, so the checks below can be tight
loss_fn = nn.BCEWithLogitsLoss()
step = viz.backprop(
    model,
    sample,
    [label],
    loss_fn,
    lr=0.5,
    feature_names=["mean radius", "mean texture"],
    class_names=list(cancer.target_names),
)
step

# %% [markdown]
# Here L is the cross-entropy of this one tumour. The loss frame writes it out: the network's logit ŷ,
# the probability p = sigmoid(ŷ) it gives to "malignant", L = −log p for a malignant tumour, and the
# gradient where the backward pass starts, dL/dŷ = p − y.

# %% [markdown]
# Every number on that page comes from biograd's engine. The page also keeps them in `step.numbers`:

# %%
first = step.numbers["layers"][0]
print(
    "loss before:", round(step.numbers["loss"], 5), "  after one step:", round(step.numbers["loss_after"], 5)
)
print("dL/dW of the first layer (3 neurons x 2 inputs):\n", np.round(first["dL_dW"], 5))

# %% [markdown]
# A row of zeros means that neuron's ReLU was off for this tumour (z < 0): no gradient passes through
# it, so its weights do not change in this step (the flat part of ReLU in tutorial 3).

# %% [markdown]
# ## Predict, then run
#
# Delete the ReLU: a network of two Linear layers and nothing between them. Will the loss still go down
# after one step? And how many rows of dL/dW can now be zero? Predict, then run.

# %%
biograd.manual_seed(1)
no_relu = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1)).double()
no_relu_step = viz.backprop(no_relu, sample, [label], loss_fn, lr=0.5)
print("loss:", round(no_relu_step.numbers["loss"], 4), "->", round(no_relu_step.numbers["loss_after"], 4))
print("dL/dW of the first layer:\n", np.round(no_relu_step.numbers["layers"][0]["dL_dW"], 5))

# %% [markdown]
# Answer: the loss still goes down (the chain rule works for any chain), and no row is zero: without
# ReLU nothing switches a neuron off, so every weight gets a gradient. But as tutorial 3 showed, the two
# layers together are one straight line: the network can no longer bend.
#
# ## Check
# Is that gradient right? An independent way to get it is **finite differences**: nudge one weight by a
# tiny ε and see how much the loss changes, (L(w + ε) - L(w - ε)) / 2ε. We compute the network by hand
# with numpy, so this check does not use biograd's gradients at all.

# %%
W1, b1 = np.array(first["W_before"]), np.array(first["b_before"])
W2, b2 = np.array(step.numbers["layers"][1]["W_before"]), np.array(step.numbers["layers"][1]["b_before"])


def loss_by_hand(W1):
    hidden = np.maximum(0, W1 @ sample + b1)  # ReLU layer
    logit = W2 @ hidden + b2
    p = 1 / (1 + np.exp(-logit))
    return float(-(label * np.log(p) + (1 - label) * np.log(1 - p))[0])


eps = 1e-6
numeric = np.zeros_like(W1)
for i in range(W1.shape[0]):
    for j in range(W1.shape[1]):
        nudge = np.zeros_like(W1)
        nudge[i, j] = eps
        numeric[i, j] = (loss_by_hand(W1 + nudge) - loss_by_hand(W1 - nudge)) / (2 * eps)

assert abs(x.grad - 2 * 1.5 * np.cos(1.5**2)) < 1e-5, "dy/dx = 2x cos(x²)"
assert steps.steps[0].upstream == 1.0 and steps_3y.steps[0].upstream == 1.0, "L: where backward() started"
assert steps_3y.steps[1].upstream == 3.0, "with L = 3y, dL/dy = 3"
assert abs(x3.grad - 3 * x.grad) < 1e-5
assert no_relu_step.numbers["loss_after"] < no_relu_step.numbers["loss"]
assert np.all(np.any(np.array(no_relu_step.numbers["layers"][0]["dL_dW"]) != 0, axis=1))
assert np.allclose(first["dL_dW"], numeric, atol=1e-6), (first["dL_dW"], numeric)
assert abs(step.numbers["loss"] - loss_by_hand(W1)) < 1e-9
assert np.allclose(first["W_after"], W1 - 0.5 * numeric, atol=1e-6), "the update is w - lr * dL/dw"
assert step.numbers["loss_after"] < step.numbers["loss"], "one step downhill lowers the loss"
assert np.array_equal(model[0].weight.data, W1), "viz.backprop works on a copy; the model is unchanged"
print("All checks passed.")
