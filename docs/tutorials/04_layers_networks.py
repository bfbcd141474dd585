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
# # 4. Layers and networks
#
# - A **layer** is many neurons side by side. Each neuron sees all the inputs.
# - A **network** stacks layers: the outputs of one layer are the inputs of the next.
# - The **width** of a layer is its number of neurons. The **depth** of a network is its number of
#   layers.
#
# The words "neurons" and "parameters" are often mixed up. They are not the same number, and this
# tutorial counts both.

# %%
# %matplotlib inline
import numpy as np

import biograd
from biograd import datasets, nn, viz

biograd.manual_seed(0)
small = nn.MLP([4, 5, 3, 1])  # 4 inputs -> 5 neurons -> 3 neurons -> 1 output
viz.network(small, title="MLP([4, 5, 3, 1]): circles are neurons, lines are weights")

# %% [markdown]
# Each line is one **weight**. Each neuron (not the inputs) also has one **bias**. Count them:
#
# - layer 1: 4 inputs x 5 neurons = 20 weights, plus 5 biases = 25
# - layer 2: 5 x 3 = 15 weights, plus 3 biases = 18
# - layer 3: 3 x 1 = 3 weights, plus 1 bias = 4
#
# That is 9 neurons but 47 parameters. In general, a layer with `n_in` inputs and `n_out` neurons has
# `n_in * n_out + n_out` parameters.
#
# ## A network for the breast-cancer data
#
# 30 measurements per tumour come in, one number (malignant or not) goes out. In between, two hidden
# layers of 16 and 8 neurons. `biograd.summary` counts for us.

# %%
cancer = datasets.breast_cancer()
n_features = cancer.x.shape[1]
biograd.manual_seed(0)
model = nn.MLP([n_features, 16, 8, 1])
report = biograd.summary(model, (n_features,))
report

# %% [markdown]
# The ReLU rows have 0 parameters: an activation has nothing to learn. Only the `Linear` layers have
# weights and biases.
#
# Now count by hand with the formula, and compare:


# %%
def count_parameters(sizes):
    """Weights plus biases of an MLP with these layer sizes (inputs first)."""
    total = 0
    for i in range(len(sizes) - 1):
        n_in, n_out = sizes[i], sizes[i + 1]
        total += n_in * n_out + n_out  # weights + biases of layer i + 1
    return total


def count_neurons(sizes):
    return sum(sizes[1:])  # the inputs are data, not neurons


sizes = [n_features, 16, 8, 1]
print("by hand: ", count_neurons(sizes), "neurons,", count_parameters(sizes), "parameters")
print("summary: ", report.total_neurons, "neurons,", report.total_parameters, "parameters")

# %% [markdown]
# ## Width vs depth
#
# Two networks with about the same number of neurons:

# %%
for shape in ([n_features, 48, 1], [n_features, 16, 16, 16, 1]):
    name = str(shape)
    print(f"{name:22s} {count_neurons(shape):3d} neurons, {count_parameters(shape):5d} parameters")

# %% [markdown]
# Same number of neurons, different numbers of parameters. The first layer costs the most, because it
# connects every input to every neuron: 30 x 48 weights in the wide network.
#
# Parameters are what the network must learn from your samples. Many parameters and few samples is the
# recipe for **overfitting**: memorizing the training samples (tutorial 9).
#
# ## What a hidden layer buys
#
# With two measurements per tumour we can draw what a classifier does on the page: `viz.decision_boundary`
# shades the predicted probability of "malignant" over the plane of the two measurements and draws the
# line where it crosses 0.5. Logistic regression (no hidden layer) can only draw a straight boundary; a
# network with a hidden layer of 8 neurons can bend it.

# %%
from sklearn.linear_model import LogisticRegression

names = ["mean radius", "mean texture"]
two = cancer.x[:, [cancer.feature_names.index(n) for n in names]].astype(np.float64)
two = (two - two.mean(axis=0)) / two.std(axis=0)
biograd.manual_seed(0)
classifier = nn.MLP([2, 8, 1])
biograd.fit(classifier, two, cancer.y, epochs=60, seed=0, verbose=False)
accuracy = {
    "logistic regression": LogisticRegression().fit(two, cancer.y).score(two, cancer.y),
    "MLP([2, 8, 1])": float(np.mean(biograd.predict(classifier, two) == cancer.y)),
}
boundary = viz.decision_boundary(
    classifier,
    two,
    cancer.y,
    feature_names=[f"{n} (standardized)" for n in names],
    class_names=cancer.target_names,
    title="MLP([2, 8, 1]) on two tumour measurements",
)
print("training accuracy:", accuracy)
boundary

# %% [markdown]
# ## Predict, then run
#
# How many parameters does the classifier above, `nn.MLP([2, 8, 1])`, have? And how many neurons?
# Write your answer, then run the cell.

# %%
print(biograd.summary(classifier, (2,)))

# %% [markdown]
# Answer: 2·8 + 8 = 24 in the hidden layer and 8·1 + 1 = 9 in the output: 33 parameters, 9 neurons.
#
# ## Check

# %%
assert report.total_parameters == count_parameters(sizes) == 30 * 16 + 16 + 16 * 8 + 8 + 8 + 1 == 641
assert report.total_neurons == count_neurons(sizes) == 25
assert report.total_parameters == report.total_weights + report.total_biases
assert sum(p.data.size for p in small.parameters()) == count_parameters([4, 5, 3, 1]) == 47
assert count_parameters([n_features, 48, 1]) > count_parameters([n_features, 16, 16, 16, 1])
assert biograd.summary(classifier, (2,)).total_parameters == count_parameters([2, 8, 1]) == 33
assert accuracy["MLP([2, 8, 1])"] > accuracy["logistic regression"] - 0.02 > 0.85
assert len(boundary.axes[0].collections) > 0, "the picture shades the probability"
print("All checks passed.")
