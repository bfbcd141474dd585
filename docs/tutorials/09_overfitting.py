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
# # 9. Overfitting and underfitting
#
# - **Underfitting**: the model is too simple, or the data do not hold the answer. It is bad on the
#   training samples *and* on new ones.
# - **Overfitting**: the model memorizes the training samples, noise included. It is excellent on them
#   and bad on new ones.
#
# Same noisy points, three model sizes:

# %%
# %matplotlib inline
import warnings

import numpy as np
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import biograd
from biograd import datasets, nn, viz
from biograd.optim import Adam
from biograd.training import ConvergenceWarning

viz.fitting_regimes()

# %% [markdown]
# The training loss alone cannot tell a good fit from an overfit: it is lowest for the overfit model.
# You need samples the model never trained on.
#
# ## Three sets of samples
#
# - **training set**: the weights learn from it;
# - **validation set**: watched during training, to choose when to stop and which settings are best;
# - **test set**: touched once, at the very end, for an honest score.
#
# The diabetes data: disease progression after one year from 10 baseline measurements (age, sex, BMI,
# blood pressure, six blood serum values). All values standardized.

# %%
diabetes = datasets.diabetes()
y = ((diabetes.y - diabetes.y.mean()) / diabetes.y.std()).astype(np.float32)
x_rest, x_test, y_rest, y_test = train_test_split(diabetes.x, y, test_size=0.25, random_state=0)
x_train, x_val, y_train, y_val = train_test_split(x_rest, y_rest, test_size=0.3, random_state=0)
scaler = StandardScaler().fit(x_train)  # learned from the training set only
x_train, x_val, x_test = scaler.transform(x_train), scaler.transform(x_val), scaler.transform(x_test)
print(f"{len(x_train)} training, {len(x_val)} validation, {len(x_test)} test patients")


def train(model, optimizer, epochs=60, callbacks=None):
    with warnings.catch_warnings():  # we read the curves ourselves below
        warnings.simplefilter("ignore", ConvergenceWarning)
        return biograd.fit(
            model,
            x_train,
            y_train,
            optimizer=optimizer,
            epochs=epochs,
            validation_data=(x_val, y_val),
            callbacks=callbacks,
            seed=0,
            verbose=False,
        )


def test_mse(model):
    return float(np.mean((biograd.predict(model, x_test) - y_test) ** 2))


# %% [markdown]
# ## Overfitting, on real data
#
# A big network (2 hidden layers of 128 neurons, about 18,000 parameters) for 231 training patients:

# %%
biograd.manual_seed(0)
big = nn.MLP([10, 128, 128, 1])
history = train(big, Adam(big.parameters(), lr=0.001))
viz.loss_curves(history, title="A big network on 231 patients")

# %% [markdown]
# The training loss keeps falling. The validation loss reaches its lowest point after a few epochs, then
# climbs: from there on the network learns the noise of its 231 patients. `history.diagnose()` reads the
# curves the same way:

# %%
history.diagnose()

# %% [markdown]
# ## Three remedies
#
# 1. **Early stopping**: watch the validation loss, stop when it has not improved for `patience` epochs,
#    and put back the weights of the best epoch.
# 2. **Dropout**: during training, switch off a random half of the hidden neurons at every step
#    (`dropout=0.5`). No neuron can rely on one particular other, which makes memorizing hard. The
#    neurons that stay on are multiplied by 1 / (1 - p) = 2, so that on average each value is unchanged;
#    at prediction time (`model.eval()`, which `biograd.predict` does for you) dropout is off and every
#    neuron is used, unscaled. The cell after this list shows it on a small vector.
# 3. **Weight decay** (L2): add λ·w to every gradient, which pulls all weights towards 0. Smaller weights
#    make a smoother function.

# %%
drop = nn.Dropout(p=0.5)
values = np.array([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]])
biograd.manual_seed(1)
drop.train()  # training mode: a new random half is switched off at every call
print("training:  ", drop(values).data, "  and again:", drop(values).data)
drop.eval()  # evaluation mode (prediction): dropout does nothing
print("evaluation:", drop(values).data)
drop.train()
average = np.mean([drop(values).data for _ in range(4000)], axis=0)
print("average of 4000 training calls:", np.round(average, 2))

# %% [markdown]
# In training, each value is either 0 or doubled (1 / (1 - 0.5) = 2), and averaged over many calls it
# comes back to the input: the scaling keeps what the next layer sees the same on average, so nothing
# needs to change when dropout is switched off for prediction.

# %%
biograd.manual_seed(0)
early = nn.MLP([10, 128, 128, 1])
early_history = train(
    early, Adam(early.parameters(), lr=0.001), callbacks=[biograd.EarlyStopping(patience=20)]
)
print(
    f"early stopping: stopped after epoch {early_history.epochs_run}, "
    f"weights of epoch {early_history.best_epoch} put back"
)

biograd.manual_seed(0)
dropout = nn.MLP([10, 128, 128, 1], dropout=0.5)
train(dropout, Adam(dropout.parameters(), lr=0.001))

biograd.manual_seed(0)
decay = nn.MLP([10, 128, 128, 1])
train(decay, Adam(decay.parameters(), lr=0.001, weight_decay=0.1))

linear = LinearRegression().fit(x_train, y_train)  # the classical baseline
results = {
    "big network, no remedy": test_mse(big),
    "early stopping": test_mse(early),
    "dropout 0.5": test_mse(dropout),
    "weight decay 0.1": test_mse(decay),
    "linear regression": float(np.mean((linear.predict(x_test) - y_test) ** 2)),
}
for name, value in results.items():
    print(f"{name:24s} test MSE {value:.3f}")

# %% [markdown]
# All three remedies beat the unregularized network on the test patients, and the best of them match
# plain linear regression. On 231 patients with 10 measurements each, there is little more to learn
# (tutorial 1 again: try the classical model first).
#
# ## Underfitting
#
# Can sex alone predict disease progression? A network trained on that one input:

# %%
sex = diabetes.x[:, [diabetes.feature_names.index("sex")]]
sex = (sex - sex.mean()) / sex.std()
biograd.manual_seed(0)
tiny = nn.MLP([1, 8, 1])
sex_history = biograd.fit(
    tiny, sex, y, epochs=40, lr=0.01, seed=0, verbose=False, callbacks=[biograd.EarlyStopping(patience=10)]
)
sex_history.diagnose()

# %% [markdown]
# The loss stays at that of always predicting the average patient. The diagnosis lists the usual fixes,
# and the last one applies here: this input does not carry the information.
#
# ## Predict, then run
#
# 1. Dropout 0.5 helped. What will **dropout 0.9** do (9 of every 10 hidden neurons off at each step)?
#    Will `diagnose()` say overfitting, a good fit, or underfitting?
# 2. The big network overfits 231 patients. Would it overfit **8 patients**? Would the validation loss
#    be better or worse than with 231?

# %%
biograd.manual_seed(0)
heavy = nn.MLP([10, 128, 128, 1], dropout=0.9)
heavy_history = train(heavy, Adam(heavy.parameters(), lr=0.001))
print("dropout 0.9:", heavy_history.diagnose())

x_all_train, y_all_train = x_train, y_train
x_train, y_train = x_all_train[:8], y_all_train[:8]  # `train` reads these two names
biograd.manual_seed(0)
few = nn.MLP([10, 128, 128, 1])
few_history = train(few, Adam(few.parameters(), lr=0.001))
x_train, y_train = x_all_train, y_all_train
print("8 patients:", few_history.diagnose())

# %% [markdown]
# Answers: 1. Underfitting: with 90% of the neurons silenced at every step, the network cannot even fit
# its training patients. Regularization is a dose. 2. Yes, and far worse: 8 patients are memorized
# within a few epochs, and the best validation loss is much higher than with 231. More data is the
# best regularizer.
#
# ## Check
# The early-stopped model must hold the weights of its best epoch: its validation error, computed here
# with numpy, equals the lowest validation loss in its history. Every remedy must beat the plain big
# network on the test set, and the best must be within 10% of linear regression (scikit-learn).

# %%
val_loss = history.history["val_loss"]
best = int(np.argmin(val_loss))
assert best < len(val_loss) - 1 and val_loss[-1] > 1.1 * val_loss[best], "validation loss turned back up"
assert history.diagnose().verdict == "overfitting"
restored_val_mse = np.mean((biograd.predict(early, x_val) - y_val) ** 2)
assert abs(restored_val_mse - min(early_history.history["val_loss"])) < 1e-4, "best epoch's weights are back"
for remedy in ("early stopping", "dropout 0.5", "weight decay 0.1"):
    assert results[remedy] < results["big network, no remedy"], remedy
best_remedy = min(results[r] for r in ("early stopping", "dropout 0.5", "weight decay 0.1"))
assert best_remedy < 1.1 * results["linear regression"]
sex_r2 = 1 - np.mean((biograd.predict(tiny, sex) - y) ** 2) / np.var(y)
assert sex_r2 < 0.05 and sex_history.diagnose().verdict == "underfitting", "sex alone explains almost nothing"
# dropout: 0 or x / (1 - p) in training, x itself in evaluation, x on average
drop.train()
biograd.manual_seed(1)
once = drop(values).data
assert set(np.round(once / values, 6).ravel()) <= {0.0, 2.0}
drop.eval()
assert np.array_equal(drop(values).data, values)
assert np.allclose(average, values, rtol=0.1)
assert np.array_equal(biograd.predict(dropout, x_test), biograd.predict(dropout, x_test)), "no dropout"
assert heavy_history.diagnose().verdict == "underfitting"
assert few_history.diagnose().verdict == "overfitting"
assert min(few_history.history["val_loss"]) > min(history.history["val_loss"])
print("All checks passed.")
