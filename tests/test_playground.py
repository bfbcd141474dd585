"""The playground without a browser: its server's refusals (token, Host, Origin, upload size), the numbers
of the inspector against PyTorch, the exported script and PyTorch twin against the session's losses, the
saved model, the CSV path with the package's reader, and a clean stop of the command on Ctrl-C."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest

import biograd
from biograd.playground import Session, frames, inspector
from biograd.playground.datasets import builtin
from biograd.playground.server import PlaygroundServer

torch = pytest.importorskip("torch")
SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture(scope="module")
def server():
    srv = PlaygroundServer(0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.close()
    thread.join(5)


def request(srv, path, body=None, headers=None, token=True, raw=False, method=None):
    """(status, decoded answer) of one request to the test server."""
    sep = "&" if "?" in path else "?"
    url = f"http://127.0.0.1:{srv.port}{path}" + (f"{sep}token={srv.token}" if token else "")
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    hdrs = {"Content-Type": "application/json"} if data is not None and not isinstance(body, bytes) else {}
    hdrs.update(headers or {})
    req = urllib.request.Request(url, data=data, headers=hdrs, method=method)
    try:
        with urllib.request.urlopen(req) as answer:
            content = answer.read()
            status = answer.status
    except urllib.error.HTTPError as err:
        content, status = err.read(), err.code
    if raw:
        return status, content
    return status, json.loads(content)


def run_script(text: str, tmp_path: Path, name: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    env = dict(os.environ, PYTHONPATH=SRC)
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def run_here(text: str, tmp_path: Path, name: str) -> str:
    """Run an exported script in this process (torch is imported already: seconds saved), not as __main__."""
    import contextlib
    import runpy

    path = tmp_path / name
    path.write_text(text)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        runpy.run_path(str(path), run_name="exported")
    return out.getvalue()


def losses_from(output: str) -> tuple[float, float]:
    words = output.replace(",", " ").split()
    train = float(words[words.index("training") + 2])
    test = float(words[words.index("test") + 2])
    return train, test


# -- safety -------------------------------------------------------------------------------------------
def test_requests_without_the_token_or_from_a_foreign_host_or_origin_are_refused(server):
    assert request(server, "/api/state")[0] == 200
    status, answer = request(server, "/api/state", token=False)
    assert status == 403 and "token" in answer["error"]
    assert request(server, "/api/state?token=" + "x" * len(server.token), token=False)[0] == 403
    assert request(server, "/", token=False, raw=True)[0] == 403
    # DNS rebinding: a foreign name that resolves to 127.0.0.1 still sends its own Host header
    assert request(server, "/api/state", headers={"Host": f"evil.example:{server.port}"})[0] == 403
    assert request(server, "/api/state", headers={"Host": "127.0.0.1:1"})[0] == 403
    assert request(server, "/api/state", headers={"Host": f"localhost:{server.port}"})[0] == 200
    status, _ = request(server, "/api/control", {"action": "step"}, headers={"Origin": "http://evil.example"})
    assert status == 403
    assert (
        request(
            server, "/api/control", {"action": "step"}, headers={"Origin": f"http://127.0.0.1:{server.port}"}
        )[0]
        == 200
    )
    # a form post (the one kind of cross-site request a browser sends without asking) is not JSON
    status, _ = request(
        server, "/api/control", b"action=play", {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 415
    assert server.server_address[0] == "127.0.0.1"


def test_the_page_and_its_files_come_from_the_package_with_a_strict_policy(server):
    req = urllib.request.Request(f"http://127.0.0.1:{server.port}/?token={server.token}")
    with urllib.request.urlopen(req) as answer:
        page = answer.read().decode()
        csp = answer.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page  # no CDN
    assert server.token in page
    status, js = request(server, "/static/playground.js", raw=True)
    assert status == 200 and b"innerHTML" not in js  # user strings only ever become textContent
    assert request(server, "/static/../server.py", raw=True)[0] == 404


def test_uploads_are_size_limited_and_never_use_the_senders_file_name(server, tmp_path):
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.putrequest("POST", f"/api/upload?token={server.token}")
    connection.putheader("Content-Length", str(6 * 1024 * 1024))  # refused before a byte of it is read
    connection.endheaders()
    answer = connection.getresponse()
    assert answer.status == 413 and "MB" in json.loads(answer.read())["error"]
    connection.close()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.putrequest("POST", f"/api/upload?token={server.token}")
    connection.putheader("Content-Length", "-1")  # would mean "read until the sender stops"
    connection.endheaders()
    assert connection.getresponse().status == 400
    connection.close()
    escape = tmp_path / "pwned.csv"
    table = b"x1,x2,label\n" + b"".join(f"{i % 7},{i % 5},{'ab'[i % 2]}\n".encode() for i in range(60))
    status, answer = request(
        server,
        "/api/upload",
        table,
        {"Content-Type": "text/csv", "X-Filename": str(escape).replace("/", "%2F")},
    )
    assert status == 200, answer
    assert answer["columns"] == ["x1", "x2", "label"] and answer["rows"] == 60
    assert not escape.exists()
    assert [p.name for p in server.tmpdir.iterdir()] == ["upload.csv"]


# -- the numbers ------------------------------------------------------------------------------------------
def torch_gradient(weights, activations, x, y, loss, layer, neuron, source):
    """dL/dw of one weight by PyTorch, from the weights and rows alone (no biograd)."""
    params = []
    h = torch.tensor(np.asarray(x), dtype=torch.float32)
    acts = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid, "identity": lambda t: t}
    for i, lw in enumerate(weights):
        w = torch.tensor(lw["weight"], dtype=torch.float32, requires_grad=True)
        b = torch.tensor(lw["bias"], dtype=torch.float32, requires_grad=True)
        params.append(w)
        h = h @ w.T + b
        if i < len(weights) - 1:
            h = acts[activations[i]](h)
    target = torch.tensor(np.asarray(y), dtype=torch.float32).reshape(h.shape)
    value = (
        torch.nn.functional.binary_cross_entropy_with_logits(h, target) if loss == "bce_with_logits" else None
    )
    value.backward()
    return float(params[layer].grad[neuron, source])


def test_the_inspector_shows_pytorchs_gradient_and_the_sgd_update(server):
    request(server, "/api/settings", {"hidden": [3, 2], "activations": ["tanh", "relu"], "lr": 0.1})
    request(server, "/api/control", {"action": "step"})
    state = request(server, "/api/state?weights=1")[1]
    data = request(server, "/api/data")[1]
    rows = state["inspection_rows"]
    for layer, neuron, source in [(0, 2, 1), (1, 1, 0), (2, 0, 1)]:
        info = request(server, f"/api/inspect?layer={layer}&neuron={neuron}&source={source}")[1]
        assert info["rows"] == rows
        expected = torch_gradient(
            state["weights"],
            state["settings"]["activations"],
            np.asarray(data["x_train"])[rows],
            np.asarray(data["y_train"])[rows],
            state["loss"],
            layer,
            neuron,
            source,
        )
        assert info["grad"] == pytest.approx(expected, rel=1e-4, abs=1e-7)
        w = state["weights"][layer]["weight"][neuron][source]
        assert info["value"] == pytest.approx(w, abs=1e-7)
        assert info["after"] == pytest.approx(w - 0.1 * expected, rel=1e-5, abs=1e-7)  # plain SGD
        assert info["data_part"] == pytest.approx(info["grad"], rel=1e-4, abs=1e-7)  # sum of delta * input
    bias = request(server, "/api/inspect?layer=1&neuron=0")[1]
    assert bias["kind"] == "bias" and bias["grad"] == pytest.approx(bias["delta_sum"], rel=1e-4, abs=1e-7)
    status, answer = request(server, "/api/inspect?layer=9&neuron=0")
    assert status == 400 and "no layer 9" in answer["error"]


def test_bad_settings_are_refused_with_what_was_wrong(server):
    status, answer = request(server, "/api/settings", {"lr": -1})
    assert status == 400 and "'lr'" in answer["error"] and "-1" in answer["error"]
    status, answer = request(server, "/api/settings", {"learning_rate": 0.1})
    assert status == 400 and "Unknown setting" in answer["error"]
    status, answer = request(server, "/api/settings", {"hidden": [4, 99]})
    assert status == 400 and "between 1 and 8" in answer["error"]
    status, answer = request(server, "/api/settings", {"loss": "cross_entropy"})  # the data are binary
    assert status == 400 and "does not fit binary data" in answer["error"]
    status, answer = request(server, "/api/settings", {"loss": "hinge"})
    assert status == 400 and "'loss'" in answer["error"]
    status, answer = request(server, "/api/control", {"action": "step", "steps": 10**9})
    assert status == 400 and "1 to 1000" in answer["error"]
    assert request(server, "/api/state")[1]["settings"]["loss"] == "bce_with_logits"


def test_exported_script_and_torch_twin_reach_the_sessions_losses(tmp_path):
    s = Session()
    s.update({"hidden": [5, 3], "activations": ["tanh", "relu"], "dataset": "three", "n_points": 200})
    s.step(15)
    s.update({"lr": 0.1, "regularization": "l2", "reg_rate": 0.01})
    s.step(10)
    s.update({"optimizer": "adam", "batch_size": "full", "regularization": "l1", "reg_rate": 0.001})
    s.step(4)
    s.update({"batch_size": 7, "optimizer": "momentum", "lr": 0.03})
    s.step(20)
    train, test = s.losses()
    from biograd.playground import export

    assert losses_from(run_script(export.script(s), tmp_path, "session.py")) == pytest.approx(
        (train, test), abs=2e-6
    )
    twin = losses_from(run_here(export.torch_script(s), tmp_path, "twin.py"))
    assert twin == pytest.approx((train, test), rel=1e-3)


def test_the_inspector_agrees_with_viz_backprop_on_a_batch_of_one():
    """Two routes to the same derivative (retain_grad on a batch, the backward trace of one sample)."""
    from biograd import viz

    s = Session()
    s.update({"batch_size": 1, "hidden": [3, 2], "activations": ["sigmoid", "tanh"], "lr": 0.3})
    s.step(3)
    row = int(s.inspection_rows()[0])
    steps = viz.backprop(s.model, s.x_train[row], s.y_train[row], s.loss_fn, lr=0.3)
    for layer, neuron, source in [(0, 1, 0), (1, 0, 2), (2, 0, 1)]:
        info = inspector.inspect(s, layer, neuron, source)
        numbers = steps.numbers["layers"][layer]
        assert info["grad"] == pytest.approx(numbers["dL_dW"][neuron][source], rel=1e-5, abs=1e-9)
        assert info["delta"] == pytest.approx(numbers["delta"][neuron], rel=1e-5, abs=1e-9)
        assert info["z"] == pytest.approx(numbers["z"][neuron], rel=1e-6)
        assert info["after"] == pytest.approx(numbers["W_after"][neuron][source], rel=1e-6, abs=1e-9)


def test_names_from_a_users_file_cannot_become_code_in_the_exported_script(tmp_path):
    from biograd.playground import export

    path = tmp_path / "t.csv"
    # the second column is called b""" (a docstring's end)
    rows = ['a,"b""""""",y'] + [f"{i % 5},{i % 3},{i % 2}" for i in range(40)]
    path.write_text("\n".join(rows) + "\n")
    s = Session(upload=(str(path), 'x"""\nimport os; os.remove("z")\n"""'))
    s.update({"dataset": "csv", "features": ["a", 'b"""'], "target": "y"})
    s.step(2)
    text = export.script(s)
    compile(text, "session.py", "exec")
    assert not any(line.lstrip().startswith("import os") for line in text.splitlines())  # only as text
    assert losses_from(run_script(text, tmp_path, "session.py")) == pytest.approx(s.losses(), abs=2e-6)


def test_the_model_export_is_biograd_save_and_predicts_as_the_session(tmp_path):
    s = Session()
    s.update({"dataset": "dose", "n_points": 100})
    s.step(30)
    from biograd.playground import export

    blob = export.model_zip(s, tmp_path)
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        names = sorted(archive.namelist())
        archive.extractall(tmp_path / "out")
    assert names == ["playground_model/model.json", "playground_model/model.safetensors"]  # never a pickle
    model, meta = biograd.load(tmp_path / "out" / "playground_model", with_metadata=True)
    x = s.x_test
    with biograd.no_grad():
        np.testing.assert_array_equal(model(x).data, s.model(x).data)
    assert meta["feature_names"] == s.data.feature_names


def test_a_run_that_diverges_pauses_and_keeps_finite_weights():
    s = Session()
    s.update({"dataset": "dose", "lr": 10.0, "optimizer": "sgd", "batch_size": "full", "hidden": [8, 8]})
    for _ in range(200):
        s.step()
        if s.diverged_at:
            break
    assert s.diverged_at is not None and not s.playing
    assert all(np.isfinite(p.data).all() for p in s.model.parameters())
    assert s.diagnose()["verdict"] == "diverged"


def test_csv_columns_come_from_the_package_reader_with_its_errors(tmp_path):
    path = tmp_path / "cells.csv"
    rng = np.random.default_rng(0)
    rows = ["cell,CD4,CD8,<b>type</b>"] + [
        f"c{i},{rng.normal():.3f},{rng.normal():.3f},{'<script>T</script>' if i % 2 else 'B & NK'}"
        for i in range(80)
    ]
    path.write_text("\n".join(rows) + "\n")
    s = Session(upload=(str(path), "cells.csv"))
    s.update({"dataset": "csv", "features": ["CD4", "CD8"], "target": "<b>type</b>"})
    assert s.data.task == "binary" and sorted(s.data.classes) == ["<script>T</script>", "B & NK"]
    s.step(5)
    with pytest.raises(ValueError, match="no column 'tpye'"):  # the reader's own message
        s.update({"features": ["CD4", "CD8"], "target": "tpye"})
    assert s.settings.target == "<b>type</b>"  # a refused change leaves the session as it was
    with pytest.raises(ValueError, match=r"cells\.csv") as err:
        s.update({"features": ["CD4", "nope"]})
    assert str(tmp_path) not in str(err.value)


def test_one_feature_regression_plots_the_target_upwards_and_exports_the_same_run(tmp_path):
    from biograd.playground import export

    rng = np.random.default_rng(2)
    dose = rng.uniform(-3, 2, 80)
    viability = 1 / (1 + 10 ** (1.2 * (dose - 0.3)))
    path = tmp_path / "dose.csv"
    path.write_text("dose,viability\n" + "".join(f"{d},{v}\n" for d, v in zip(dose, viability, strict=True)))
    s = Session(upload=(str(path), "dose.csv"))
    s.update({"dataset": "csv", "features": ["dose"], "target": "viability", "optimizer": "adam"})
    assert s.shape() == [1, 4, 4, 1] and s.data.task == "regression"
    s.step(40)
    points = frames.points(s)
    assert points["one_feature"]
    np.testing.assert_allclose(np.asarray(points["train"])[:, 1], s.data.y_train, atol=1e-5)
    assert s.extent[2] < s.data.y_train.min() and s.extent[3] > s.data.y_train.max()
    assert losses_from(run_script(export.script(s), tmp_path, "dose.py")) == pytest.approx(
        s.losses(), abs=2e-6
    )


def test_builtin_data_sets_are_split_at_random_and_standardized_on_training_rows():
    for name, task in [
        ("gating", "binary"),
        ("ring", "binary"),
        ("spiral", "binary"),
        ("three", "multiclass"),
    ]:
        d = builtin(name, 300, 0.3, 0.5, 4)
        assert d.task == task and d.x_train.shape == (150, 2)
        np.testing.assert_allclose(((d.x_train - d.mean) / d.std).mean(axis=0), 0, atol=1e-9)
    d = builtin("dose", 200, 0.0, 0.8, 1)
    assert d.task == "regression" and d.y_train.min() >= 0 and d.y_train.max() <= 1
    with pytest.raises(ValueError, match="Unknown data set"):
        builtin("xor", 100)


def test_a_port_in_use_is_a_clear_error_not_a_traceback(server):
    env = dict(os.environ, PYTHONPATH=SRC)
    done = subprocess.run(
        [sys.executable, "-m", "biograd", "playground", "--no-browser", "--port", str(server.port)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2 and "--port" in done.stderr and "Traceback" not in done.stderr


def test_the_command_prints_its_address_and_stops_cleanly_on_ctrl_c():
    env = dict(os.environ, PYTHONPATH=SRC)
    proc = subprocess.Popen(
        [sys.executable, "-m", "biograd", "playground", "--no-browser", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        url = proc.stdout.readline().split(": ", 1)[1].strip()
        assert url.startswith("http://127.0.0.1:") and "?token=" in url
        with urllib.request.urlopen(url.replace("/?", "/api/state?")) as answer:
            assert json.loads(answer.read())["shape"] == [2, 4, 4, 1]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Playground stopped." in out and "Traceback" not in err
