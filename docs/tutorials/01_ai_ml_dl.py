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
# # 1. AI, machine learning, deep learning
#
# Three nested ideas:
#
# - **Artificial intelligence (AI)**: any program that does something we would call clever. The rule can
#   be written by a person.
# - **Machine learning (ML)**: the program *learns* the rule from examples. A person still chooses what
#   the model looks at (the *features*).
# - **Deep learning (DL)**: machine learning with neural networks of several layers. The network also
#   learns *which features* matter, from raw data such as DNA letters.
#
# We try all three on two questions and see where each one wins:
#
# 1. Is a breast tumour malignant? (30 measurements of its cell nuclei: a table)
# 2. Does a DNA sequence contain a binding site (a *motif*)? (50 raw bases)

# %%
# %matplotlib inline
import numpy as np
from matplotlib.figure import Figure
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import biograd
from biograd import datasets, nn

# %% [markdown]
# ## Question 1: a table of measurements
#
# We keep 30% of the tumours aside as a **test set**: the models never see them while learning, so the
# score on them tells us how well each model works on new patients.

# %%
cancer = datasets.breast_cancer()
print(cancer.description)
x_train, x_test, y_train, y_test = train_test_split(
    cancer.x, cancer.y, test_size=0.3, stratify=cancer.y, random_state=0
)
scaler = StandardScaler().fit(x_train)  # put every measurement on the same scale (mean 0, sd 1)
x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)

# %% [markdown]
# **Classical machine learning**: logistic regression, one weight per measurement.
# **Deep learning**: a small network (30 inputs, 16 neurons, 1 output), trained with `biograd.fit`.

# %%
classic = LogisticRegression(max_iter=1000).fit(x_train, y_train)
classic_table = classic.score(x_test, y_test)  # fraction of test tumours classified correctly

biograd.manual_seed(0)  # the same starting weights every time you run this
net = nn.MLP([30, 16, 1])
biograd.fit(net, x_train, y_train, epochs=100, seed=0, verbose=False)
net_table = float(np.mean(biograd.predict(net, x_test) == y_test))
print(f"logistic regression: {classic_table:.3f}   small network: {net_table:.3f}")

# %% [markdown]
# Both are right about 95% of the time. On a table of well-chosen measurements, the classical model
# is as good, faster, and easier to explain. Use it first.
#
# ## Question 2: raw DNA
#
# `datasets.motifs` makes random DNA. Half of the sequences have the motif `CGACCGAACTCC` written in at a
# random position, like a transcription-factor binding site.
#
# **AI without learning**: we know the motif, so we can write the rule ourselves.

# %%
dna = datasets.motifs(n=1000)
print(dna.sequences[0], "label:", dna.target_names[dna.y[0]])
rule = np.array([int("CGACCGAACTCC" in seq) for seq in dna.sequences])
print("hand-written rule, accuracy:", np.mean(rule == dna.y))

# %% [markdown]
# That is perfect, but only because we knew the answer. In real data we do not know the motif.
#
# The sequences are **one-hot encoded**: each base becomes 4 numbers (A, C, G, T), one of them 1, so a
# sequence of 50 bases is a 4 x 50 grid of 0s and 1s.
#
# **Classical ML**: logistic regression with one weight per (base, position): "is there a C at position 17?".
# The motif can sit anywhere, so no single position tells much.

# %%
train_idx, test_idx = train_test_split(np.arange(len(dna.y)), test_size=0.3, stratify=dna.y, random_state=0)
flat = dna.x.reshape(len(dna.y), -1)  # 4 x 50 one-hot grid -> 200 features
classic_dna = LogisticRegression(max_iter=2000).fit(flat[train_idx], dna.y[train_idx])
classic_seq = classic_dna.score(flat[test_idx], dna.y[test_idx])
print(f"logistic regression on one-hot DNA: {classic_seq:.3f}")

# %% [markdown]
# **Deep learning**: a small convolutional network. Its 8 *filters* slide along the sequence, 12 bases
# at a time, and learn by themselves what pattern to look for. The best match anywhere counts (global
# max pooling). Tutorial 10 opens this network up.

# %%
biograd.manual_seed(0)
cnn = nn.Sequential(nn.Conv1d(4, 8, kernel_size=12), nn.ReLU(), nn.GlobalMaxPool1d(), nn.Linear(8, 1))
biograd.fit(cnn, dna.x[train_idx], dna.y[train_idx], epochs=20, lr=0.01, seed=0, verbose=False)
net_seq = float(np.mean(biograd.predict(cnn, dna.x[test_idx]) == dna.y[test_idx]))
print(f"convolutional network on the same DNA: {net_seq:.3f}")

# %%
fig = Figure(figsize=(7, 3.6), layout="constrained")
ax = fig.subplots()
labels = ["tumours:\nlogistic", "tumours:\nnetwork", "DNA:\nlogistic", "DNA:\nnetwork"]
ax.bar(labels, [classic_table, net_table, classic_seq, net_seq], color=["#0072B2", "#D55E00"] * 2)
ax.bar_label(ax.containers[0], fmt="%.2f")
ax.axhline(0.5, color="black", linestyle=":", label="coin toss")
ax.set_ylim(0, 1.1)
ax.set_ylabel("test accuracy (fraction correct)")
ax.set_title("Classical ML vs a small network, on held-out samples")
ax.legend(loc="lower left")
fig

# %% [markdown]
# **Where each wins**
#
# - You know the rule: write it (AI, no learning needed).
# - A table of good measurements: classical ML is as good as a network. Start there.
# - Raw data (sequences, images) with patterns that can sit anywhere: deep learning finds the pattern
#   by itself.
#
# ## Predict, then run
#
# A "model" that never looks at the tumour and always answers "benign": what fraction of the test
# tumours does it get right? Is 0.95 accuracy impressive after all? Predict, then run.

# %%
always_benign = float(np.mean(y_test == 0))
print(f"always 'benign': accuracy {always_benign:.3f}   logistic regression: {classic_table:.3f}")

# %% [markdown]
# Answer: about 0.63, because 63% of the tumours in this data are benign. An accuracy means little until
# you compare it with the simplest possible answer; 0.95 is far above it.
#
# ## Check
# The last cell checks that you got the point. If you changed something above and an `assert` fails,
# its message says what went wrong.

# %%
planted = dna.extra["motif_positions"] >= 0  # where the generator really wrote the motif
assert np.array_equal(rule == 1, planted), "the hand-written rule should find exactly the planted motifs"
assert abs(net_table - classic_table) < 0.05, "on the table, the network should be about as good"
assert net_seq > classic_seq + 0.2, "on raw DNA, the network should clearly beat logistic regression"
assert net_seq > 0.9
assert abs(always_benign - np.mean(cancer.y == 0)) < 0.01 and classic_table > always_benign + 0.25
print("All checks passed.")
