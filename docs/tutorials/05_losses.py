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
# # 5. Loss functions
#
# A **loss** is one number that says how wrong the predictions are: 0 is perfect, bigger is worse.
# Training changes the weights to make it smaller, so the loss decides what "good" means. Two losses
# cover most biology:
#
# - **Mean squared error (MSE)** for numbers (regression): the average of (prediction - truth)².
# - **Cross-entropy** for classes (classification): -log(the probability given to the true class).

# %%
# %matplotlib inline
import numpy as np
from matplotlib.figure import Figure

import biograd
from biograd import datasets, nn

# %% [markdown]
# ## MSE punishes big errors much more than small ones
#
# The diabetes data: disease progression one year after baseline (a score from 25 to 346) for 442
# patients. Two made-up predictors, each off by 300 points in total over 3 patients:

# %%
diabetes = datasets.diabetes()
truth = diabetes.y[:3]
spread_out = truth + np.array([100.0, -100.0, 100.0])  # three errors of 100
one_big = truth + np.array([300.0, 0.0, 0.0])  # one error of 300, two perfect
mse = nn.MSELoss()
for name, pred in [("three errors of 100", spread_out), ("one error of 300", one_big)]:
    print(f"{name}: MSE = {mse(biograd.tensor(pred), biograd.tensor(truth)).item():8.0f}")

# %% [markdown]
# Both are wrong by 300 points in total, yet MSE rates the single big miss 3 times worse: errors are
# squared. Outliers in your measurements pull hard on a model trained with MSE.
#
# ## What does MSE reward? The mean
#
# Suppose a model can only predict one number for every patient. Which number minimizes the MSE?
# Gradient descent finds it:

# %%
y = biograd.tensor(diabetes.y)
guess = biograd.tensor(0.0, requires_grad=True)
for _ in range(200):
    loss = ((guess - y) ** 2).mean()
    guess.grad = None
    loss.backward()
    guess.data -= 0.1 * guess.grad  # a gradient-descent step (tutorial 7)
print(f"best single guess under MSE: {guess.item():.2f}   mean of y: {diabetes.y.mean():.2f}")

# %% [markdown]
# ## Cross-entropy for classes
#
# For a tumour, a classifier gives p = the probability of "malignant". Cross-entropy is
# -log(p) if the tumour is malignant, and -log(1 - p) if it is benign:

# %%
p = np.linspace(0.01, 0.99, 99)
fig = Figure(figsize=(6, 4), layout="constrained")
ax = fig.subplots()
ax.plot(p, -np.log(p), color="#0072B2", label="truth: malignant, loss = -log(p)")
ax.plot(p, -np.log(1 - p), "--", color="#D55E00", label="truth: benign, loss = -log(1 - p)")
ax.set_xlabel("predicted probability of malignant, p")
ax.set_ylabel("cross-entropy loss")
ax.set_title("Cross-entropy: confident and wrong costs the most")
ax.legend()
fig

# %% [markdown]
# For a malignant tumour: saying 0.9 costs 0.11, a hesitant 0.4 costs 0.92, and a confident, wrong 0.01
# costs 4.6. Cross-entropy rewards calibrated confidence and punishes confident mistakes.
#
# In biograd, a binary classifier outputs a **logit** z (any real number), and
# `nn.BCEWithLogitsLoss` computes the cross-entropy of p = sigmoid(z) in one numerically safe step.
# Let us compare it with the formula on a few tumours:

# %%
cancer = datasets.breast_cancer()
rows = np.r_[np.flatnonzero(cancer.y == 1)[:3], np.flatnonzero(cancer.y == 0)[:3]]
labels = cancer.y[rows].astype(np.float64)  # 3 malignant (1), then 3 benign (0)
logits = np.array([2.0, -1.0, 0.5, -3.0, 4.0, 0.0])  # what some model might output
bce = nn.BCEWithLogitsLoss()(biograd.tensor(logits), biograd.tensor(labels)).item()
prob = 1 / (1 + np.exp(-logits))
by_hand = np.mean(-(labels * np.log(prob) + (1 - labels) * np.log(1 - prob)))
print("labels:", labels, "\nbiograd:", round(bce, 5), " by hand:", round(by_hand, 5))

# %% [markdown]
# With more than two classes, `nn.CrossEntropyLoss` takes one logit per class and turns them into
# probabilities with softmax. `biograd.fit` picks the loss for you from y: numbers mean MSE, two classes
# mean BCEWithLogitsLoss, more classes mean CrossEntropyLoss.
#
# ## Predict, then run
#
# 1. A classifier that answers p = 0.5 for every tumour: what cross-entropy does it get?
# 2. MSE is minimized by the mean. Which single guess minimizes the mean *absolute* error (L1 loss)?
#    Predict, then run.

# %%
coin = nn.BCEWithLogitsLoss()(biograd.tensor(np.zeros(6)), biograd.tensor(labels)).item()
print(f"1. p = 0.5 everywhere: cross-entropy {coin:.4f}")
guesses = np.linspace(diabetes.y.min(), diabetes.y.max(), 2001)
l1 = nn.L1Loss()
y_all = biograd.tensor(diabetes.y.astype(np.float64))
mae = [l1(biograd.tensor(np.full(len(diabetes.y), g)), y_all).item() for g in guesses]
best_l1 = guesses[int(np.argmin(mae))]
print(f"2. best single guess under L1: {best_l1:.1f}   median: {np.median(diabetes.y):.1f}")

# %% [markdown]
# Answers: 1. −log(0.5) = 0.693 for every tumour, malignant or benign: the loss of knowing nothing.
# 2. The median: L1 pulls equally hard from every point, so the best guess has as many patients above as
# below it. MSE pulls harder from far-away points, which drags its best guess to the mean.
#
# ## Check
# Compare with independent formulas: the mean minimizes MSE, and scikit-learn's `log_loss` is the
# cross-entropy.

# %%
from sklearn.metrics import log_loss

assert abs(guess.item() - diabetes.y.mean()) < 0.01 * diabetes.y.std()
big, spread = (mse(biograd.tensor(pred), biograd.tensor(truth)).item() for pred in (one_big, spread_out))
assert np.isclose(big, 300**2 / 3) and np.isclose(spread, 100**2), "MSE is the mean of squared errors"
assert abs(bce - log_loss(labels, prob)) < 1e-5
three_class_logits = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
ce = nn.CrossEntropyLoss()(biograd.tensor(three_class_logits), biograd.tensor(np.array([0, 2]))).item()
softmax = np.exp(three_class_logits) / np.exp(three_class_logits).sum(axis=1, keepdims=True)
assert abs(ce - log_loss([0, 2], softmax, labels=[0, 1, 2])) < 1e-5
assert abs(coin - np.log(2)) < 1e-9
assert abs(best_l1 - np.median(diabetes.y)) <= 1.0, "L1's best single guess is the median"
print("All checks passed.")
