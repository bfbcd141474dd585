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
# # 2. The neuron
#
# A neuron takes some inputs x, multiplies each by a **weight** w, adds a **bias** b, and passes the
# result through an **activation** function:
#
# $$y = \text{activation}(x \cdot w + b)$$
#
# With no activation (the "identity") this is the straight line $y = w x + b$ from school: w is the
# slope, b the intercept. w and b are the neuron's **parameters**: the numbers that training changes.
#
# Our data: a protein **standard curve** (Bradford assay). We measured the absorbance at 595 nm of
# 6 samples of known protein concentration. We want the line through them, to read unknown samples.

# %%
# %matplotlib inline
import numpy as np
from matplotlib.figure import Figure

import biograd
from biograd import nn, viz

concentration = np.array([0.0, 0.25, 0.5, 0.75, 1.0, 1.5])  # mg/mL
absorbance = np.array([0.05, 0.21, 0.33, 0.52, 0.63, 0.97])  # A595

# %% [markdown]
# ## One neuron in biograd
#
# `nn.Neuron(1, activation="identity")` is one neuron with one input. It starts with a random weight
# and a bias of 0. Let us check that it computes exactly `x * w + b`.

# %%
biograd.manual_seed(0)
neuron = nn.Neuron(1, activation="identity")
x = concentration.reshape(-1, 1)  # one row per sample, one column per input
print("w =", neuron.weight.data, " b =", neuron.bias.data)
print("neuron:  ", neuron(x).data)
print("by hand: ", concentration * neuron.weight.data[0] + neuron.bias.data)
viz.network(neuron, title="One neuron: y = w*x + b")

# %% [markdown]
# ## Fitting by hand
#
# How good is a guess for w and b? We measure the **loss**: the mean squared error between the
# neuron's predictions and the measurements (tutorial 5 says more). Try a few guesses:


# %%
def loss_of(w, b):
    prediction = w * concentration + b
    return np.mean((prediction - absorbance) ** 2)


for w, b in [(1.0, 0.0), (0.5, 0.1), (0.6, 0.05)]:
    print(f"w = {w}, b = {b}:  loss = {loss_of(w, b):.5f}")

# %% [markdown]
# Guessing works for 2 numbers, but a real network has thousands. We need a recipe that says which way
# to change each one.
#
# ## Fitting by gradient descent
#
# The **gradient** dL/dw says how the loss changes when w grows a little. Step against it, and the loss
# goes down:
#
# $$w \leftarrow w - \text{lr} \cdot \frac{dL}{dw}, \qquad b \leftarrow b - \text{lr} \cdot \frac{dL}{db}$$
#
# lr, the **learning rate**, sets the step size. biograd computes the gradients for us: `loss.backward()`
# fills `w.grad` and `b.grad` (tutorial 6 shows how).

# %%
w = biograd.tensor(1.0, requires_grad=True)  # a starting guess
b = biograd.tensor(0.0, requires_grad=True)
xs, ys = biograd.tensor(concentration), biograd.tensor(absorbance)
lr = 0.3
for step in range(300):
    loss = ((xs * w + b - ys) ** 2).mean()
    w.grad = b.grad = None  # forget the previous step's gradients
    loss.backward()  # dL/dw into w.grad, dL/db into b.grad
    if step % 60 == 0:
        print(f"step {step:3d}: w {w.item():.4f}  b {b.item():.4f}  loss {loss.item():.5f}")
    w.data -= lr * w.grad  # the gradient-descent step
    b.data -= lr * b.grad
print(f"final: w = {w.item():.4f} absorbance per mg/mL, b = {b.item():.4f}")

# %%
grid = np.linspace(0, 1.6, 50)
fig = Figure(figsize=(6, 4), layout="constrained")
ax = fig.subplots()
ax.scatter(concentration, absorbance, color="black", label="measurements", zorder=3)
ax.plot(grid, 1.0 * grid + 0.0, linestyle=":", color="#D55E00", label="starting guess (w=1, b=0)")
ax.plot(grid, w.item() * grid + b.item(), color="#0072B2", label="after gradient descent")
ax.set_xlabel("protein concentration (mg/mL)")
ax.set_ylabel("absorbance at 595 nm")
ax.set_title("One neuron fitted to a standard curve")
ax.legend()
fig

# %% [markdown]
# ## Reading an unknown sample
#
# An unknown sample reads A595 = 0.45. Solve the line for x: concentration = (0.45 - b) / w.

# %%
unknown = (0.45 - b.item()) / w.item()
print(f"unknown sample: {unknown:.3f} mg/mL")

# %% [markdown]
# ## An activation bends the line
#
# With `activation="sigmoid"` the same neuron squeezes its output between 0 and 1: a probability, as in
# "probability that this tumour is malignant". This is a new neuron of the same form, with its own
# weights set by hand (w = 4 and b = -2), not the w and b fitted above; the sigmoid bends its straight
# line z = 4x - 2 into an S:

# %%
sigmoid_neuron = nn.Neuron(1, activation="sigmoid")
sigmoid_neuron.weight.data = np.array([4.0], dtype=np.float32)  # set w = 4 and b = -2 by hand
sigmoid_neuron.bias.data = np.array(-2.0, dtype=np.float32)
z = np.linspace(-1, 2, 7).reshape(-1, 1)
print("x:                    ", z.ravel())
print("sigmoid(4x - 2):      ", np.round(sigmoid_neuron(z).data, 3))
print("1 / (1 + exp(-(4x-2))):", np.round(1 / (1 + np.exp(-(4 * z.ravel() - 2))), 3))

# %% [markdown]
# ## Predict, then run
#
# 1. What does the sigmoid neuron above output for x = 0.5? (Hint: compute z = 4x - 2 first.)
# 2. Our fitted neuron has no activation. If we gave the *fitted* w and b a sigmoid, could it still
#    predict an absorbance of 0.97? Write your answers, then run the cell.

# %%
at_half = sigmoid_neuron(np.array([[0.5]])).item()
fitted_with_sigmoid = 1 / (1 + np.exp(-(w.item() * concentration + b.item())))
print(f"1. sigmoid(4 · 0.5 - 2) = sigmoid(0) = {at_half:.3f}")
print("2. the fitted neuron with a sigmoid would predict:", np.round(fitted_with_sigmoid, 3))

# %% [markdown]
# Answers: 1. z = 0 and sigmoid(0) = 0.5: the middle of the S. 2. It predicts between 0.51 and 0.73 here
# and can never go above 1: for readings that are not probabilities, a sigmoid output squeezes the
# answer into the wrong range, which is why regression networks end without an activation.
#
# ## Check
# Gradient descent should land on the best line, which statistics gives in closed form (least squares,
# `np.polyfit`).

# %%
slope, intercept = np.polyfit(concentration, absorbance, deg=1)
assert abs(w.item() - slope) < 1e-3 and abs(b.item() - intercept) < 1e-3, (slope, intercept)
assert loss_of(w.item(), b.item()) < min(loss_of(1.0, 0.0), loss_of(0.5, 0.1), loss_of(0.6, 0.05))
assert np.allclose(neuron(x).data, concentration * neuron.weight.data[0] + neuron.bias.data, atol=1e-6)
assert np.allclose(sigmoid_neuron(z).data, 1 / (1 + np.exp(-(4 * z.ravel() - 2))), atol=1e-6)
assert abs(at_half - 0.5) < 1e-6
assert fitted_with_sigmoid.min() > 0.51 and fitted_with_sigmoid.max() < 0.73 < absorbance.max()
print("All checks passed.")
