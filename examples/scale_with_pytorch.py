"""Start in biograd, continue in PyTorch: the hand-off when your data outgrows a laptop.

1. Train the CLI's default sequence model (Conv1d -> ReLU -> GlobalMaxPool1d -> Linear) in biograd for a
   few epochs on the bundled motif dataset (DNA with a planted transcription-factor-like motif).
2. Export it with ``biograd.interop.to_torch``: same layers, same weights, same predictions.
3. Continue training in PyTorch, on a GPU when there is one.
4. Bring the trained weights back to biograd (``from_torch``) to explain, plot or save them.

Run:   python examples/scale_with_pytorch.py              (or --biograd-epochs 2 --torch-epochs 2)
Needs: pip install "biograd[torch]"

On a cluster, the same exported model trains on many processes or GPUs with PyTorch's
DistributedDataParallel: examples/ddp_torchrun.py does it for real, e.g. on 2 CPU processes with
``torchrun --nproc_per_node 2 examples/ddp_torchrun.py --out ddp-run`` (tests/test_ddp_example.py runs it).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import warnings

import numpy as np
import torch

import biograd
import biograd.datasets
from biograd import nn
from biograd.interop import from_torch, to_torch


def build_model(n_filters: int = 16, kernel_size: int = 12) -> nn.Sequential:
    """The CLI's default network for DNA: each filter is a learned motif detector."""
    return nn.Sequential(
        nn.Conv1d(4, n_filters, kernel_size),
        nn.ReLU(),
        nn.GlobalMaxPool1d(),  # the best match anywhere in the sequence
        nn.Linear(n_filters, 1),  # one logit: has the motif or not
    )


def train_in_torch(model: torch.nn.Module, x: np.ndarray, y: np.ndarray, epochs: int, device: str) -> None:
    """A plain PyTorch training loop (binary cross-entropy with logits, Adam, mini-batches of 64)."""
    data = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y.astype(np.float32)))
    loader = torch.utils.data.DataLoader(data, batch_size=64, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    model.train()
    for epoch in range(1, epochs + 1):
        total = 0.0
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            optimizer.zero_grad()
            loss = loss_fn(model(xb).squeeze(1), yb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
        print(f"  torch epoch {epoch}: loss {total / len(data):.4f}")
    model.eval()


def torch_accuracy(model: torch.nn.Module, x: np.ndarray, y: np.ndarray, device: str) -> float:
    with torch.no_grad():
        logits = model(torch.from_numpy(x).to(device)).squeeze(1).cpu().numpy()
    return float(np.mean((logits > 0) == y))


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_epochs = int(os.environ.get("BIOGRAD_EXAMPLE_EPOCHS", "5"))
    parser.add_argument("--biograd-epochs", type=int, default=default_epochs)
    parser.add_argument("--torch-epochs", type=int, default=default_epochs)
    parser.add_argument("--samples", type=int, default=int(os.environ.get("BIOGRAD_EXAMPLE_SAMPLES", "2000")))
    args = parser.parse_args(argv)

    data = biograd.datasets.motifs(n=args.samples, seed=0)
    x, y = data.x.astype(np.float32), data.y
    n_train = int(0.8 * len(x))
    x_train, y_train, x_test, y_test = x[:n_train], y[:n_train], x[n_train:], y[n_train:]

    print(f"1. biograd: {args.biograd_epochs} epochs on {n_train} sequences")
    biograd.manual_seed(0)
    model = build_model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few epochs are not meant to converge
        biograd.fit(
            model, x_train, y_train, epochs=args.biograd_epochs, lr=1e-2, batch_size=64, verbose=False
        )
    biograd_acc = float(np.mean(biograd.predict(model, x_test) == y_test))
    print(f"   test accuracy in biograd: {biograd_acc:.3f}")

    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"2. export to PyTorch (training on {device})")
    torch_model = to_torch(model).eval().to(device)
    exported_acc = torch_accuracy(torch_model, x_test, y_test, device)
    print(f"   the same model in PyTorch: accuracy {exported_acc:.3f} (identical predictions)")

    print(f"3. PyTorch: {args.torch_epochs} more epochs")
    train_in_torch(torch_model, x_train, y_train, args.torch_epochs, device)
    torch_acc = torch_accuracy(torch_model, x_test, y_test, device)
    print(f"   test accuracy after PyTorch training: {torch_acc:.3f}")

    print("4. back to biograd, and saved (safetensors + JSON)")
    back = from_torch(torch_model.cpu())
    back_acc = float(np.mean(biograd.predict(back, x_test, task="classification") == y_test))
    with tempfile.TemporaryDirectory() as folder:
        biograd.save(back, os.path.join(folder, "motif-cnn"))
        print(f"   saved to {folder}/motif-cnn; accuracy in biograd again: {back_acc:.3f}")
    return {"biograd": biograd_acc, "exported": exported_acc, "torch": torch_acc, "back": back_acc}


if __name__ == "__main__":
    main()
