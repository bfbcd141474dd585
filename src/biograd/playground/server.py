"""The playground's web server: the standard library's ThreadingHTTPServer on 127.0.0.1 only.

Safety, in the order a request meets it:

1. the server listens on the loopback address, so other machines cannot connect;
2. the ``Host`` header must name this server (127.0.0.1:PORT or localhost:PORT) and an ``Origin`` header,
   when sent, must be this server's: a web page elsewhere that points a name at 127.0.0.1 (DNS rebinding)
   is refused;
3. every request carries the random per-launch token (``?token=`` or the ``X-Playground-Token`` header),
   compared in constant time;
4. uploads are read into memory up to ``MAX_UPLOAD`` bytes and written to a temporary file named by us: the
   file name the browser sends is only shown, never used as a path.

Routes (all need the token): ``/`` the page; ``/static/...`` its CSS and JavaScript (from the installed
package); ``GET /api/state`` (epoch, losses, network shape, settings), ``/api/frame``, ``/api/inspect``,
``/api/data``, ``/api/weights``, ``/backprop``, ``/api/export/{script,torch,model,replay}``;
``POST /api/settings``, ``/api/control``, ``/api/upload``.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
import threading
import webbrowser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from biograd.playground import export, frames, inspector
from biograd.playground.export import static_text
from biograd.playground.session import Session, SettingsError

MAX_UPLOAD = 5 * 1024 * 1024  # bytes: a CSV of a few thousand rows is far smaller
MAX_JSON = 64 * 1024
STATIC = {"playground.js": "text/javascript", "playground.css": "text/css"}
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


class PlaygroundServer(ThreadingHTTPServer):
    """The HTTP server of one playground: its token, its session and its temporary folder."""

    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, port: int = 0, session: Session | None = None) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.token = secrets.token_urlsafe(24)
        self.session = session or Session()
        self.tmpdir = Path(tempfile.mkdtemp(prefix="biograd-playground-"))

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?token={self.token}"

    def allowed_hosts(self) -> set[str]:
        return {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}

    def close(self) -> None:
        """Stop training, close the socket and remove the uploaded copies."""
        self.session.close()
        self.server_close()
        shutil.rmtree(self.tmpdir, ignore_errors=True)


class Handler(BaseHTTPRequestHandler):
    server: PlaygroundServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body leave at once: no 40 ms wait for a delayed ACK

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        return  # quiet: the command prints its URL and nothing per request

    # -- answers -------------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Frame-Options", "DENY")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, value: Any, status: int = 200) -> None:
        self._send(status, json.dumps(value, allow_nan=False).encode(), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json({"error": message}, status)

    def _download(self, body: bytes, name: str, content_type: str) -> None:
        self._send(200, body, content_type, {"Content-Disposition": f'attachment; filename="{name}"'})

    # -- the checks every request passes ----------------------------------------------------------------
    def _refused(self) -> bool:
        server = self.server
        host = self.headers.get("Host", "")
        if host not in server.allowed_hosts():
            self._error(HTTPStatus.FORBIDDEN, "Refused: this server answers only to 127.0.0.1 or localhost.")
            return True
        origin = self.headers.get("Origin")
        if origin is not None and origin not in {f"http://{h}" for h in server.allowed_hosts()}:
            self._error(HTTPStatus.FORBIDDEN, "Refused: a request from another web site.")
            return True
        query = parse_qs(urlsplit(self.path).query)
        token = self.headers.get("X-Playground-Token") or (query.get("token") or [""])[0]
        if not secrets.compare_digest(token.encode(), server.token.encode()):
            self._error(
                HTTPStatus.FORBIDDEN, "Refused: open the address with its token, as the command printed it."
            )
            return True
        return False

    def _query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}

    def _body(self, limit: int) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._error(HTTPStatus.LENGTH_REQUIRED, "The request needs a Content-Length.")
            return None
        if length < 0:
            self._error(HTTPStatus.BAD_REQUEST, "The Content-Length cannot be negative.")
            self.close_connection = True
            return None
        if length > limit:
            self._error(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"The upload is {length / 1e6:.1f} MB; the playground takes files up to "
                f"{limit / 1e6:.0f} MB.",
            )
            self.close_connection = True
            return None
        return self.rfile.read(length)

    # -- GET ---------------------------------------------------------------------------------------------
    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        if self._refused():
            return
        path = urlsplit(self.path).path
        session = self.server.session
        q = self._query()
        try:
            if path in ("/", "/index.html"):
                page = static_text("index.html").replace("{{TOKEN}}", self.server.token)
                self._send(200, page.encode(), "text/html; charset=utf-8", {"Content-Security-Policy": _CSP})
            elif path.startswith("/static/") and path[len("/static/") :] in STATIC:
                name = path[len("/static/") :]
                self._send(200, static_text(name).encode(), STATIC[name] + "; charset=utf-8")
            elif path == "/api/state":
                state = session.state()
                if q.get("weights"):
                    with session.locked():
                        state["weights"] = session.weights()
                        state["inspection_rows"] = session.inspection_rows().astype(int).tolist()
                self._json(state)
            elif path == "/api/frame":
                self._json(frames.frame(session, with_points=q.get("points") == "1"))
            elif path == "/api/data":
                with session.locked():
                    self._json(
                        {
                            "x_train": session.x_train.astype(float).tolist(),
                            "y_train": session.y_train.astype(float).tolist(),
                            "x_test": session.x_test.astype(float).tolist(),
                            "y_test": session.y_test.astype(float).tolist(),
                            "points": frames.points(session),
                        }
                    )
            elif path == "/api/inspect":
                source = q.get("source")
                self._json(
                    inspector.inspect(
                        session,
                        int(q.get("layer", 0)),
                        int(q.get("neuron", 0)),
                        None if source in (None, "") else int(source),
                        int(q.get("sample", 0)),
                    )
                )
            elif path == "/backprop":
                self._send(
                    200,
                    inspector.backprop_page(session, int(q.get("sample", 0))).encode(),
                    "text/html; charset=utf-8",
                )
            elif path == "/api/export/script":
                self._download(export.script(session).encode(), "playground_session.py", "text/x-python")
            elif path == "/api/export/torch":
                self._download(export.torch_script(session).encode(), "playground_torch.py", "text/x-python")
            elif path == "/api/export/model":
                self._download(
                    export.model_zip(session, self.server.tmpdir), "playground_model.zip", "application/zip"
                )
            elif path == "/api/export/replay":
                self._download(export.replay(session).encode(), "playground_replay.html", "text/html")
            else:
                self._error(HTTPStatus.NOT_FOUND, f"No page {path!r} here.")
        except (SettingsError, ValueError) as err:
            self._error(HTTPStatus.BAD_REQUEST, str(err))

    # -- POST --------------------------------------------------------------------------------------------
    def do_POST(self) -> None:
        if self._refused():
            return
        path = urlsplit(self.path).path
        session = self.server.session
        if path == "/api/upload":
            self._upload()
            return
        if not self.headers.get("Content-Type", "").startswith("application/json"):
            self._error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "Send JSON (Content-Type: application/json).")
            return
        body = self._body(MAX_JSON)
        if body is None:
            return
        try:
            message = json.loads(body or b"{}")
        except ValueError:
            self._error(HTTPStatus.BAD_REQUEST, "The request body is not valid JSON.")
            return
        try:
            if path == "/api/settings":
                with session.locked():
                    session.update(message)
                self._json(session.state())
            elif path == "/api/control":
                action = message.get("action") if isinstance(message, dict) else None
                if action == "play":
                    session.play()
                elif action == "pause":
                    session.pause()
                elif action == "step":
                    steps = message.get("steps", 1)
                    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= 1000:
                        raise SettingsError(f"'steps' must be a whole number from 1 to 1000. Got {steps!r}.")
                    session.step(steps)
                elif action == "reset":
                    with session.locked():
                        session.playing = False
                        session.message = ""
                        session.reset()
                else:
                    raise SettingsError(f"Unknown action {action!r}: use play, pause, step or reset.")
                self._json(session.state())
            else:
                self._error(HTTPStatus.NOT_FOUND, f"No action {path!r} here.")
        except (SettingsError, ValueError) as err:  # DataError is a ValueError: the reader's own message
            self._error(HTTPStatus.BAD_REQUEST, str(err))

    def _upload(self) -> None:
        body = self._body(MAX_UPLOAD)
        if body is None:
            return
        from urllib.parse import unquote

        shown = unquote(self.headers.get("X-Filename", "upload.csv"))[:200] or "upload.csv"
        suffix = ".tsv" if shown.lower().endswith((".tsv", ".tsv.gz", ".txt")) else ".csv"
        target = self.server.tmpdir / f"upload{suffix}"  # our name: the user's file name is never a path
        for old in self.server.tmpdir.glob("upload.*"):
            old.unlink()
        target.write_bytes(body)
        try:
            from biograd.playground.datasets import columns_of

            info = columns_of(str(target), shown)
        except ValueError as err:
            self._error(HTTPStatus.BAD_REQUEST, str(err))
            return
        with self.server.session.locked():
            self.server.session.upload = (str(target), shown)
        self._json({"name": shown, **info})


def serve(port: int = 0, open_browser: bool = True, ready: Any = None) -> int:
    """Run the playground until Ctrl-C: print nothing here; ``ready(url)`` is called once it listens
    (the CLI prints the address). Returns 0 after a clean stop."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"--port must be a port number from 0 to 65535 (0: any free port). Got {port!r}.")
    try:
        server = PlaygroundServer(port)
    except OSError as err:
        raise ValueError(
            f"Cannot listen on 127.0.0.1:{port} ({err.strerror or err}). Another program may use that port: "
            "choose another with --port, or --port 0 for any free one."
        ) from None
    if ready is not None:
        ready(server.url)
    if open_browser:
        threading.Thread(target=webbrowser.open, args=(server.url,), daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0
