"""examples/ddp_torchrun.py runs for real: two processes on loopback, gloo backend, torch's own launcher.

The oracle is PyTorch on one process: DDP averages the gradients of equal shares of each mini-batch, so
two processes must end with the weights one process reaches on the whole mini-batches (to float32
rounding: the sums are split differently), and with identical weights on both processes.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torch.distributed")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ddp_torchrun.py"
pytestmark = pytest.mark.skipif(not EXAMPLE.exists(), reason="examples/ is not shipped with the package")

SETTINGS = {"samples": 192, "epochs": 3, "batch_size": 64, "lr": 1e-2}


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _load_example():
    spec = importlib.util.spec_from_file_location("ddp_torchrun", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    return example


def _one_process_full_batches(example) -> dict[str, np.ndarray]:
    """Plain PyTorch on one process: the same start, rows and order, each whole mini-batch at once."""
    import biograd
    from biograd.interop import to_torch

    x, y = example.load_data(SETTINGS["samples"])
    biograd.manual_seed(0)
    model = to_torch(example.build_model())
    optimizer = torch.optim.Adam(model.parameters(), lr=SETTINGS["lr"])
    loss_fn = torch.nn.BCEWithLogitsLoss()
    size = SETTINGS["batch_size"]
    for epoch in range(SETTINGS["epochs"]):
        order = example.epoch_order(len(x), epoch)
        for start in range(0, len(order) - size + 1, size):
            rows = order[start : start + size]
            optimizer.zero_grad()
            loss_fn(model(torch.from_numpy(x[rows])).squeeze(1), torch.from_numpy(y[rows])).backward()
            optimizer.step()
    return {name: value.detach().numpy() for name, value in model.state_dict().items()}


def test_two_processes_with_ddp_match_one_process_on_whole_batches(tmp_path):
    port = _free_loopback_port()
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--nnodes",
        "1",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(port),
        str(EXAMPLE),
        "--out",
        str(tmp_path),
        "--samples",
        str(SETTINGS["samples"]),
        "--epochs",
        str(SETTINGS["epochs"]),
        "--batch-size",
        str(SETTINGS["batch_size"]),
        "--lr",
        str(SETTINGS["lr"]),
    ]
    # loopback only: gloo would otherwise pick the interface of the machine's host name
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "epoch 3: loss" in done.stdout

    ranks = [np.load(tmp_path / f"rank{r}.npz") for r in (0, 1)]
    names = sorted(set(ranks[0].files) - {"losses"})
    assert names == ["0.bias", "0.weight", "3.bias", "3.weight"]
    for name in names:  # DDP keeps the processes in step: the very same weights
        np.testing.assert_array_equal(ranks[0][name], ranks[1][name], err_msg=name)
    losses = ranks[0]["losses"]
    assert losses[-1] < losses[0]

    oracle = _one_process_full_batches(_load_example())
    for name in names:
        np.testing.assert_allclose(ranks[0][name], oracle[name], rtol=1e-4, atol=1e-5, err_msg=name)
    assert (tmp_path / "motif-cnn").exists() or any(tmp_path.glob("motif-cnn*"))
