"""Past one machine: train a biograd model on several processes with PyTorch's DistributedDataParallel.

1. Build the CLI's default sequence model in biograd (Conv1d -> ReLU -> GlobalMaxPool1d -> Linear) with
   the same seed in every process, so every process starts from the same weights.
2. Export it with ``biograd.interop.to_torch`` and wrap it in ``DistributedDataParallel`` (DDP).
3. Each step, every process takes its own equal share of the same global mini-batch; DDP averages the
   gradients across processes, so every process takes the same step as one process would on the whole
   mini-batch, and all of them keep identical weights.
4. Bring the trained weights back to biograd with ``biograd.interop.from_torch`` and save them there.

Run on one machine, 2 processes on the CPU (gloo backend):

    torchrun --nproc_per_node 2 examples/ddp_torchrun.py --out ddp-run

On GPUs use ``--backend nccl`` (one process per GPU); on several machines add ``--nnodes 2
--node_rank 0|1 --rdzv_endpoint HOST:29500`` to torchrun. Needs: pip install "biograd[torch]".

Each process writes ``OUT/rank<r>.npz`` (its final weights and its loss per epoch); process 0 also saves
the model in biograd's format (``OUT/motif-cnn``) and prints one line per epoch.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

import biograd
import biograd.datasets
from biograd import nn
from biograd.interop import from_torch, to_torch


def build_model(n_filters: int = 8, kernel_size: int = 12) -> nn.Sequential:
    """The CLI's default network for DNA (as in examples/scale_with_pytorch.py), smaller."""
    return nn.Sequential(
        nn.Conv1d(4, n_filters, kernel_size),
        nn.ReLU(),
        nn.GlobalMaxPool1d(),
        nn.Linear(n_filters, 1),
    )


def load_data(samples: int) -> tuple[np.ndarray, np.ndarray]:
    """One-hot DNA (samples, 4, length) float32 and 0/1 labels float32: the bundled motif data."""
    data = biograd.datasets.motifs(n=samples, seed=0)
    return data.x.astype(np.float32), data.y.astype(np.float32)


def epoch_order(n_rows: int, epoch: int) -> np.ndarray:
    """The shuffled row order of an epoch, the same in every process (seeded by the epoch number)."""
    return np.random.default_rng(epoch).permutation(n_rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for the weights each process ends with")
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64, help="global mini-batch, split evenly")
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--backend", default="gloo", help="gloo (CPU) or nccl (GPUs)")
    args = parser.parse_args(argv)

    dist.init_process_group(args.backend)  # reads RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT from torchrun
    rank, world = dist.get_rank(), dist.get_world_size()
    if args.batch_size % world:
        raise SystemExit(f"--batch-size {args.batch_size} must be a multiple of the {world} processes.")
    torch.set_num_threads(1)  # one core per process
    device = torch.device(f"cuda:{int(os.environ['LOCAL_RANK'])}" if args.backend == "nccl" else "cpu")

    x, y = load_data(args.samples)
    biograd.manual_seed(0)  # the same starting weights in every process (DDP also broadcasts rank 0's)
    model = DistributedDataParallel(to_torch(build_model()).to(device))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = torch.nn.BCEWithLogitsLoss()  # mean over this process's rows; DDP averages across processes

    share = args.batch_size // world
    losses = []
    for epoch in range(args.epochs):
        order = epoch_order(len(x), epoch)
        total = torch.zeros(2, dtype=torch.float64)
        for start in range(0, len(order) - args.batch_size + 1, args.batch_size):  # whole batches only
            rows = order[start + rank * share : start + (rank + 1) * share]  # this process's share
            xb, yb = torch.from_numpy(x[rows]).to(device), torch.from_numpy(y[rows]).to(device)
            optimizer.zero_grad()
            loss = loss_fn(model(xb).squeeze(1), yb)
            loss.backward()  # DDP all-reduces (averages) the gradients here
            optimizer.step()
            total += torch.tensor([loss.item() * len(rows), len(rows)], dtype=torch.float64)
        dist.all_reduce(total)  # the epoch's mean loss over all processes' rows
        losses.append(float(total[0] / total[1]))
        if rank == 0:
            print(f"epoch {epoch + 1}: loss {losses[-1]:.4f} ({world} processes)", flush=True)

    back = from_torch(model.module.cpu())  # a biograd model again: explain, plot, save
    os.makedirs(args.out, exist_ok=True)
    np.savez(os.path.join(args.out, f"rank{rank}.npz"), losses=np.array(losses), **back.state_dict())
    if rank == 0:
        biograd.save(back, os.path.join(args.out, "motif-cnn"))
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
