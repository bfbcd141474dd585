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
# # 3. Activation functions
#
# After the weighted sum z = x·w + b, each neuron applies an **activation** a = f(z). The common ones:
#
# - **ReLU**: max(0, z). Zero for negative z, the identity otherwise. The default in most networks.
# - **sigmoid**: 1 / (1 + e^(-z)), between 0 and 1 (a probability).
# - **tanh**: between -1 and 1.
#
# The dashed lines are their derivatives f'(z), computed by biograd. Training multiplies by them
# (tutorial 6). Where f'(z) = 0, as for ReLU left of 0, nothing is learned.

# %%
# %matplotlib inline
import numpy as np
from matplotlib.figure import Figure

import biograd
from biograd import nn, viz

viz.activation_functions(["relu", "sigmoid", "tanh"])

# %% [markdown]
# ## Why bother? Without activations, layers collapse into one
#
# A layer computes x @ W^T + b: a *linear* function. Stack three of them with nothing in between:
#
# $$y = ((x W_1^T + b_1) W_2^T + b_2) W_3^T + b_3 = x\,(W_3 W_2 W_1)^T + (\text{one bias})$$
#
# That is a single layer in disguise. Let us check it with numbers.

# %%
biograd.manual_seed(0)
no_activation = nn.Sequential(nn.Linear(1, 8), nn.Linear(8, 8), nn.Linear(8, 1))
(W1, b1), (W2, b2), (W3, b3) = [(layer.weight.data, layer.bias.data) for layer in no_activation]
W = W3 @ W2 @ W1  # one 1x1 matrix: a slope
b = W3 @ (W2 @ b1 + b2) + b3  # one intercept
x = np.linspace(-2, 2, 5).reshape(-1, 1)
print("three layers:  ", no_activation(x).data.ravel())
print("one line x*W+b:", (x @ W.T + b).ravel())

# %% [markdown]
# Three layers, 97 parameters, and still a straight line. Put a **nonlinear** activation (tanh)
# between the layers and the network can bend.
#
# ## A curve no line can follow
#
# Enzyme activity against temperature rises, peaks, then falls as the enzyme denatures. (The data are
# made up, with noise, peaking at 40 °C.)

# %%
rng = np.random.default_rng(0)
temperature = np.linspace(10, 70, 40)
activity = np.exp(-(((temperature - 40) / 12) ** 2)) + 0.05 * rng.standard_normal(40)
t_scaled = ((temperature - 40) / 17).reshape(-1, 1)  # inputs near -1..1 train best


def train(model):
    biograd.fit(
        model, t_scaled, activity, epochs=400, lr=0.02, batch_size="full", validation_split=0, verbose=False
    )
    return np.mean((biograd.predict(model, t_scaled) - activity) ** 2)  # mean squared error


biograd.manual_seed(0)
linear_net = nn.Sequential(nn.Linear(1, 8), nn.Linear(8, 8), nn.Linear(8, 1))
biograd.manual_seed(0)
tanh_net = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 1))
mse_linear, mse_tanh = train(linear_net), train(tanh_net)
print(f"without activations: MSE {mse_linear:.4f}    with tanh: MSE {mse_tanh:.4f}")

# %%
fig = Figure(figsize=(6.5, 4), layout="constrained")
ax = fig.subplots()
ax.scatter(temperature, activity, color="black", s=15, label="measurements")
ax.plot(
    temperature, biograd.predict(linear_net, t_scaled), "--", color="#D55E00", label="3 layers, no activation"
)
ax.plot(temperature, biograd.predict(tanh_net, t_scaled), color="#0072B2", label="3 layers with tanh")
ax.set_xlabel("temperature (°C)")
ax.set_ylabel("enzyme activity (relative)")
ax.set_title("Activations let a network bend")
ax.legend()
fig

# %% [markdown]
# Without activations, the best the network can do is the best straight line, however many layers
# it has. With them it follows the curve.
#
# How does a network get there? `viz.regression_fit` trains a network with two tanh layers of 16 neurons
# on the same measurements and draws its curve at a few epochs (full-batch Adam, lr 0.02): a flat line
# at first, then a curve that bends towards the points as the loss (in the legend) falls.

# %%
bending = viz.regression_fit(t_scaled.ravel(), activity, epochs=300, snapshots=(0, 20, 100, 300), lr=0.02)
bending

# %% [markdown]
# ## Predict, then run
#
# Swap tanh for ReLU (`nn.ReLU()`), which is a straight line on each side of 0. Can a network of
# such pieces still follow the peak? Better or worse than the straight line?

# %%
biograd.manual_seed(0)
relu_net = nn.Sequential(nn.Linear(1, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 1))
mse_relu = train(relu_net)
print(f"with ReLU: MSE {mse_relu:.4f}   (straight line: {mse_linear:.4f}, tanh: {mse_tanh:.4f})")

# %% [markdown]
# Answer: yes. Each ReLU neuron adds a bend, and a sum of bent lines can follow a peak: the network
# draws the curve as a few straight pieces joined at corners. Any nonlinearity breaks the collapse into
# one line.
#
# ## Check
# The best straight line is known in closed form (least squares, `np.polyfit`). The network without
# activations cannot beat it; the one with tanh must do much better.

# %%
slope, intercept = np.polyfit(t_scaled.ravel(), activity, deg=1)
best_line_mse = np.mean((slope * t_scaled.ravel() + intercept - activity) ** 2)
assert np.allclose(no_activation(x).data, x @ W.T + b, atol=1e-5), "three linear layers are one line"
assert mse_linear >= best_line_mse - 1e-6, "no linear network can beat the least-squares line"
assert mse_linear < best_line_mse * 1.05, "...and training should bring it close to that line"
assert mse_tanh < best_line_mse / 5, "with tanh the network follows the curve"
assert mse_relu < best_line_mse / 3, "ReLU pieces follow it too"
snapshot_losses = [float(line.get_label().split("loss ")[1]) for line in bending.axes[0].lines]
assert snapshot_losses == sorted(snapshot_losses, reverse=True), "the loss in the legend falls epoch by epoch"
assert snapshot_losses[-1] < best_line_mse, "after 300 epochs the curve beats any straight line"
print(f"best line MSE {best_line_mse:.4f}: all checks passed.")
