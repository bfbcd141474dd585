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
# # 10. Your own data: finding a motif in DNA
#
# Everything so far, on sequences from a FASTA file: read them, train a small convolutional network to
# tell sequences with a binding motif from those without, then ask **which bases the network looked at**.
#
# Here the sequences come from `datasets.motifs`, so we know the truth: half of them carry the motif
# `CGACCGAACTCC` at a random position. With your own data, you would start from your own FASTA file.

# %%
# %matplotlib inline
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from sklearn.model_selection import train_test_split

import biograd
from biograd import bio, datasets, explain, nn, viz

truth = datasets.motifs(n=800, seed=1)
with open("promoters.fa", "w") as fasta:  # what your own file would look like
    for i, (seq, label) in enumerate(zip(truth.sequences, truth.y, strict=True)):
        fasta.write(f">seq{i + 1} label={truth.target_names[label]}\n{seq}\n")
print(Path("promoters.fa").read_text()[:240])

# %% [markdown]
# ## Read the file
#
# `bio.load_fasta` reads the sequences and the `label=` in each header (or a separate CSV of labels:
# `labels="labels.csv"`), and one-hot encodes the bases. Each sequence becomes a grid of 4 rows
# (A, C, G, T) by 50 positions.

# %%
data = bio.load_fasta("promoters.fa")
print(data)
print("classes:", data.target_names, "  first sequence as one-hot (A, C, G, T rows, first 8 bases):")
print(data.x[0][:, :8])

# %% [markdown]
# ## A small convolutional network
#
# - `Conv1d(4, 8, kernel_size=12)`: 8 **filters**, each a 4 x 12 grid of weights, slide along the
#   sequence. At each position, a filter scores how well the 12 bases there match its pattern.
# - `ReLU`, then `GlobalMaxPool1d`: keep each filter's best score *anywhere* in the sequence. A motif
#   counts wherever it sits.
# - `Linear(8, 1)`: weigh the 8 best scores into one logit for "has the motif".
#
# **Weight sharing.** A filter uses the *same* 4 x 12 weights at every position: it is one small pattern
# detector slid along the sequence, not a separate detector per position. That is why a motif counts
# wherever it sits, and why the layer is small: 8 x (4 x 12) weights + 8 biases = 392 parameters, whatever
# the sequence length. A dense layer from the 4 x 50 one-hot grid to 8 neurons *per position* (39 positions
# where 12 bases fit) would need 39 times more weights. The cell below checks it: one filter's score at
# position 5 is the sum of its weights times the 12 bases starting at position 5, and the same numbers
# score position 30.

# %%
biograd.manual_seed(0)
conv = nn.Conv1d(4, 8, kernel_size=12)
one = data.x[:1]  # the first sequence: (1 sequence, 4 letters, 50 positions)
scores = conv(one).data  # (1, 8 filters, 39 positions)
kernel, bias = conv.weight.data[0], conv.bias.data[0]  # filter 0: (4, 12) weights and one bias
by_hand = [float((kernel * one[0][:, p : p + 12]).sum() + bias) for p in (5, 30)]
print("filter 0 at positions 5 and 30, by the layer:", scores[0, 0, [5, 30]])
print("                               and by hand:", np.round(by_hand, 6))
print("parameters:", sum(p.data.size for p in conv.parameters()), "  output positions:", scores.shape[-1])

# %%
train_idx, test_idx = train_test_split(
    np.arange(len(data.y)), test_size=0.25, stratify=data.y, random_state=0
)
biograd.manual_seed(0)
cnn = nn.Sequential(nn.Conv1d(4, 8, kernel_size=12), nn.ReLU(), nn.GlobalMaxPool1d(), nn.Linear(8, 1))
print(biograd.summary(cnn, (4, 50)))
history = biograd.fit(
    cnn,
    data.x[train_idx],
    data.y[train_idx],
    epochs=30,
    lr=0.01,
    seed=0,
    verbose=False,
    callbacks=[biograd.EarlyStopping(patience=5)],
)
accuracy = float(np.mean(biograd.predict(cnn, data.x[test_idx]) == data.y[test_idx]))
print(f"test accuracy: {accuracy:.3f}.", history.diagnose())
viz.loss_curves(history, title="A convolutional network learning the motif")

# %% [markdown]
# ## Which bases did the network look at?
#
# **Integrated gradients** give every base a share of the network's score (its logit). They walk in
# small steps from a *baseline*, here the all-zero input ("no sequence"), to the real sequence, average
# the gradient of the score along the way, and multiply it by how much each input differs from the
# baseline. The shares add up to score(sequence) - score(baseline), so each base gets its part of the
# difference the real sequence makes. This is not "how much the score drops if that base is removed":
# that question is answered by changing bases (in-silico mutagenesis, below), and the two answers can
# differ. Large values mark the bases the decision rests on. Here are 8 test sequences that carry the
# motif; the black boxes show where it really was planted.

# %%
with_motif = test_idx[data.y[test_idx] == 1]
attributions = explain.integrated_gradients(cnn, data.x[with_motif], steps=25)
importance = explain.position_importance(attributions)  # one number per position
planted = truth.extra["motif_positions"][with_motif]

fig = Figure(figsize=(9, 3.6), layout="constrained")
ax = fig.subplots()
shown = importance[:8]
image = ax.imshow(shown, aspect="auto", cmap="Blues", vmin=0)
for row, start in enumerate(planted[:8]):
    ax.add_patch(Rectangle((start - 0.5, row - 0.5), 12, 1, fill=False, edgecolor="black", linewidth=2))
ax.set_yticks(range(8), [data.ids[i] for i in with_motif[:8]])
ax.set_xlabel("position in the sequence (base)")
ax.set_title("Integrated gradients per base (box: where the motif was planted)")
fig.colorbar(image, ax=ax, label="attribution (share of the logit)")
fig

# %% [markdown]
# The network looks at the motif and ignores the other 38 bases.
#
# **In-silico mutagenesis** asks the same question without gradients: change every base to each of the
# other three letters, one at a time, and see how much the score falls. (Positions count from 0, as
# Python does.)

# %%
mutations = explain.in_silico_mutagenesis(cnn, data.x[with_motif[:1]])[0]  # (4 letters, 50 positions)
damage = -mutations.min(axis=0)  # the worst substitution at each position
seq = data.sequences[with_motif[0]]
worst = int(np.argmax(damage))
print(seq)
print(f"most damaging change: position {worst} ({seq[worst]}), score falls by {damage[worst]:.2f}")
print(f"motif planted at positions {planted[0]}-{planted[0] + 11}: {seq[planted[0] : planted[0] + 12]}")

# %% [markdown]
# ## What did the filters learn?
#
# Each filter is a 4 x 12 grid of weights. The filter that counts most for "has the motif" (the largest
# weight in the last layer), with the strongest letter at each of its 12 positions:

# %%
filters = cnn[0].weight.data  # (8 filters, 4 letters, 12 positions)
strongest = int(np.argmax(cnn[3].weight.data.ravel()))
consensus = "".join("ACGT"[i] for i in filters[strongest].argmax(axis=0))
print("strongest filter reads:", consensus, "   planted motif:", truth.extra["motif"])

fig = Figure(figsize=(6, 2.6), layout="constrained")
ax = fig.subplots()
limit = np.abs(filters[strongest]).max()
image = ax.imshow(filters[strongest], cmap="PuOr_r", vmin=-limit, vmax=limit)
ax.set_yticks(range(4), list("ACGT"))
ax.set_xticks(range(12), list(consensus))
ax.set_xlabel("filter position (strongest letter)")
ax.set_title(f"Filter {strongest}: its weights are the motif")
fig.colorbar(image, ax=ax, label="weight")
fig

# %% [markdown]
# The network found the motif by itself, from labelled sequences only. Nobody told it the pattern.
#
# ## Your turn
#
# - Your own FASTA: `bio.load_fasta("my.fa", labels="labels.csv")`, then the same steps.
# - Or on the command line, one command trains, compares with classical models, explains and writes a
#   report: `biograd train my.fa --labels labels.csv --out runs/mine`, then open `runs/mine/report.html`.
#
# ## Predict, then run
#
# 1. The integrated-gradients shares of one sequence should add up to score(sequence) - score(all zeros).
#    Do they exactly, with only 25 steps? And with 200 steps? Predict, then run.
# 2. Train the same network on only 8 sequences instead of 600, with 100 other sequences held out for
#    validation. Will it still find the motif? Predict, then read `diagnose()`.

# %%
x_one = data.x[with_motif[:1]]
logit = cnn(x_one).data.item()
logit_zero = cnn(np.zeros_like(x_one)).data.item()
gaps = {}
for steps in (25, 200):
    shares = explain.integrated_gradients(cnn, x_one, steps=steps)
    gaps[steps] = abs(shares.sum() - (logit - logit_zero))
    print(f"{steps:3} steps: sum of shares {shares.sum():.4f}", end="   ")
    print(f"score(x) - score(0) = {logit - logit_zero:.4f}")

biograd.manual_seed(0)
tiny = nn.Sequential(nn.Conv1d(4, 8, kernel_size=12), nn.ReLU(), nn.GlobalMaxPool1d(), nn.Linear(8, 1))
few, held_out = train_idx[:8], test_idx[:100]
tiny_history = biograd.fit(
    tiny,
    data.x[few],
    data.y[few],
    epochs=60,
    lr=0.01,
    seed=0,
    verbose=False,
    validation_data=(data.x[held_out], data.y[held_out]),
)
tiny_accuracy = float(np.mean(biograd.predict(tiny, data.x[test_idx]) == data.y[test_idx]))
print(f"8 sequences: test accuracy {tiny_accuracy:.2f}.", tiny_history.diagnose())

# %% [markdown]
# Answers: 1. Close, not exact: with 25 steps the sum is a few percent off, with 200 steps much closer.
# The gap is the error of adding up steps instead of taking the integral. 2. Only partly: the network
# memorizes its 8 sequences (training loss near 0) but classifies new ones far worse than the network
# trained on 600; `diagnose()` calls it overfitting. A 12-base pattern among 50 random bases needs many
# examples.
#
# ## Check
# The generator knows where each motif was planted. The network should classify new sequences well,
# point at the planted bases, and its strongest filter should spell the motif.

# %%
top_position = importance.argmax(axis=1)
hits = np.mean((top_position >= planted) & (top_position < planted + 12))
motif = truth.extra["motif"]
best_alignment = max(
    sum(a == b for a, b in zip(consensus[max(0, s) :], motif[max(0, -s) :], strict=False))
    for s in range(-3, 4)
)
assert np.array_equal(data.y, truth.y), "labels read from the FASTA headers are the generator's"
assert accuracy >= 0.95, accuracy
assert hits >= 0.9, f"only {hits:.0%} of top attributions fall inside the planted motif"
assert planted[0] <= worst < planted[0] + 12, "the most damaging mutation is inside the motif"
assert best_alignment >= 9, (consensus, motif)
assert np.allclose(scores[0, 0, [5, 30]], by_hand, atol=1e-5), "one filter, the same weights everywhere"
assert sum(p.data.size for p in conv.parameters()) == 8 * 4 * 12 + 8 == 392
assert gaps[200] < gaps[25] < 0.1 * abs(logit - logit_zero), "completeness, up to the integration error"
assert tiny_accuracy < accuracy - 0.1 and tiny_history.diagnose().verdict == "overfitting"
print(f"{hits:.0%} of the top attributions are inside the motif. All checks passed.")
