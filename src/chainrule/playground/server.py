"""The playground's web server: the standard library's ``ThreadingHTTPServer`` and
server-sent events.

Why the standard library: the page only *receives* a stream (frames of heat maps and
losses) and sends a few small commands, which is exactly what server-sent events
(``text/event-stream``, the browser's ``EventSource``) are for; ``http.server`` serves them
with no new dependency, starts in milliseconds and runs wherever chainrule runs. Starlette
+ uvicorn (or websockets) would buy nothing this page needs.

One session per browser tab: the page asks ``POST /api/session`` on load and sends its id
with every request. Training runs in the thread of the tab's event stream, one frame at a
time, so a closed tab stops its training at the next write (the session stays until it has
been idle for :data:`IDLE_SECONDS`). Every request handler turns a bad request into a 4xx
JSON ``{"error": ...}`` (shown in the page) and an unexpected failure into a 500 with the
message; the server keeps running. Ctrl-C stops it cleanly.

Routes: ``GET /`` (the page), ``GET /static/<file>``, ``POST /api/session``,
``GET /api/stream``, ``POST /api/config``, ``POST /api/control``, ``POST /api/upload``
(CSV, at most 1 MB), ``GET /api/explain``, ``GET /api/gradient``, ``GET /api/snippet``,
``GET /api/model`` (``.safetensors``), ``GET /api/state``.
"""

from __future__ import annotations

import json
import math
import mimetypes
import secrets
import sys
import tempfile
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .core import CSV_MAX_BYTES, Config, Run, parse_csv

__all__ = ["PlaygroundServer"]

STATIC = Path(__file__).parent / "static"
IDLE_SECONDS = 1800
MAX_SESSIONS = 64
JSON_MAX_BYTES = 65_536
KEEPALIVE_SECONDS = 10
MAX_FPS = 30


class HTTPError(Exception):
    """A request the server refuses: status and message (sent as JSON)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Session:
    """One tab's run and its controls (guarded by ``cond``)."""

    def __init__(self, sid: str, cfg: Config) -> None:
        self.sid = sid
        self.cond = threading.Condition()
        self.uploaded: Any = None
        self.run = Run(cfg)
        self.playing = False
        self.pending = 0            # single steps asked for
        self.version = 0            # bumped when the run is rebuilt
        self.dirty = True           # a frame is due
        self.stream = 0             # the current event stream's number
        self.message: str | None = None
        self.last_seen = time.monotonic()

    def rebuild(self, cfg: Config, uploaded: Any = None) -> None:
        """A new run from ``cfg`` (validated before the old one is replaced)."""
        run = Run(cfg, uploaded if uploaded is not None else self.uploaded)
        with self.cond:
            if uploaded is not None:
                self.uploaded = uploaded
            self.run = run
            self.playing = False
            self.pending = 0
            self.version += 1
            self.dirty = True
            self.cond.notify_all()


class PlaygroundServer:
    """The playground's HTTP server on ``127.0.0.1``.

    Args:
        port: TCP port (0: a free one).
        max_fps: at most this many frames per second per tab while playing (one epoch per
            frame, as in TensorFlow Playground; a faster stream only makes the browser fall
            behind); 0 for no limit.

    Example:
        >>> srv = PlaygroundServer(0).start()      # in a background thread
        >>> srv.url.startswith("http://127.0.0.1:")
        True
        >>> srv.stop()
    """

    def __init__(self, port: int = 0, max_fps: float = MAX_FPS) -> None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an int in [0, 65535], got {port!r}")
        if not isinstance(max_fps, (int, float)) or not max_fps >= 0:
            raise ValueError(f"max_fps must be a number >= 0, got {max_fps!r}")
        self.min_interval = 1.0 / max_fps if max_fps else 0.0
        self.sessions: dict[str, Session] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        handler = type("Handler", (_Handler,), {"app": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The page's address."""
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def start(self) -> PlaygroundServer:
        """Serve in a background thread; returns self."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until Ctrl-C (then stop cleanly)."""
        try:
            self.httpd.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self) -> None:
        """End the event streams, stop serving and close the socket."""
        self.stopping.set()
        with self.lock:
            sessions = list(self.sessions.values())
        for s in sessions:
            with s.cond:
                s.cond.notify_all()
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=5)
        self.httpd.server_close()

    # ---------------------------------------------------------------- sessions
    def new_session(self, cfg: Config) -> Session:
        session = Session(secrets.token_hex(8), cfg)
        now = time.monotonic()
        with self.lock:
            for sid, s in list(self.sessions.items()):
                if now - s.last_seen > IDLE_SECONDS:
                    del self.sessions[sid]
            if len(self.sessions) >= MAX_SESSIONS:   # the longest idle goes
                oldest = min(self.sessions.values(), key=lambda s: s.last_seen)
                del self.sessions[oldest.sid]
            self.sessions[session.sid] = session
        return session

    def session(self, query: dict[str, list[str]]) -> Session:
        sid = query.get("sid", [""])[0]
        with self.lock:
            s = self.sessions.get(sid)
        if s is None:
            raise HTTPError(404, f"unknown session {sid!r}: reload the page")
        s.last_seen = time.monotonic()
        return s


class _Handler(BaseHTTPRequestHandler):
    app: PlaygroundServer
    server_version = "chainrule-playground"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    # -------------------------------------------------------------- plumbing
    def _send(self, status: int, body: bytes, ctype: str, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, obj: Any, status: int = 200) -> None:
        self._send(status, json.dumps(obj, allow_nan=False).encode(), "application/json")

    def _body(self, limit: int) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None:
            raise HTTPError(411, "a Content-Length header is required")
        try:
            n = int(length)
        except ValueError:
            raise HTTPError(400, f"bad Content-Length {length!r}") from None
        if n < 0:
            raise HTTPError(400, f"bad Content-Length {length!r}")
        if n > limit:
            if n <= 16 * limit:   # read it away so that the client sees the answer
                left = n
                while left > 0:
                    chunk = self.rfile.read(min(65536, left))
                    if not chunk:
                        break
                    left -= len(chunk)
            self.close_connection = True
            raise HTTPError(413, f"request body too large: {n} bytes (at most {limit})")
        return self.rfile.read(n)

    def _json_body(self) -> Any:
        raw = self._body(JSON_MAX_BYTES)
        try:
            return json.loads(raw or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise HTTPError(400, f"malformed JSON: {err}") from None

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        route = getattr(self, f"{method}_{url.path.strip('/').replace('/', '_')}", None)
        try:
            if url.path.startswith("/static/") and method == "get":
                return self._static(url.path[len("/static/"):])
            if url.path == "/" and method == "get":
                return self._static("index.html")
            if route is None:
                raise HTTPError(404, f"no such route: {method.upper()} {url.path}")
            route(query)
        except HTTPError as err:
            self._error(err.status, str(err))
        except (ValueError, TypeError) as err:
            self._error(400, str(err))
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as err:  # the server keeps running; the page shows the message
            traceback.print_exc(file=sys.stderr)
            self._error(500, f"internal error: {type(err).__name__}: {err}")

    def _error(self, status: int, message: str) -> None:
        try:
            self._json({"error": message}, status)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self) -> None:
        self._dispatch("get")

    def do_POST(self) -> None:
        self._dispatch("post")

    def _static(self, name: str) -> None:
        files = {p.name: p for p in STATIC.iterdir() if p.is_file()}
        if name not in files:
            raise HTTPError(404, f"no such file: {name}")
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype.endswith("javascript"):
            ctype += "; charset=utf-8"
        self._send(200, files[name].read_bytes(), ctype)

    # ---------------------------------------------------------------- routes
    def post_api_session(self, query: Any) -> None:
        body = self._json_body()
        if not isinstance(body, dict):
            raise HTTPError(400, "expected a JSON object")
        warning = None
        try:
            cfg = (Config.from_hash(body["hash"]) if body.get("hash")
                   else Config.from_dict(body.get("config", {})))
            if cfg.dataset == "upload":
                raise ValueError("an uploaded data set is not in the URL: upload it again")
        except (ValueError, TypeError) as err:
            cfg, warning = Config(), f"URL state ignored: {err}"
        s = self.app.new_session(cfg)
        self._json({"sid": s.sid, "config": cfg.to_dict(), "hash": cfg.to_hash(),
                    "warning": warning})

    def post_api_config(self, query: Any) -> None:
        s = self.app.session(query)
        cfg = Config.from_dict(self._json_body())
        with s.cond:
            display_only = cfg.same_run(s.run.cfg)
            if display_only:
                s.run.cfg = cfg
        if not display_only:
            s.rebuild(cfg)
        self._json({"config": cfg.to_dict(), "hash": cfg.to_hash()})

    def post_api_control(self, query: Any) -> None:
        s = self.app.session(query)
        action = self._json_body().get("action")
        if action == "regenerate":
            cfg = Config.from_dict({**s.run.cfg.to_dict(),
                                    "data_seed": (s.run.cfg.data_seed + 1) % 2**31})
            s.rebuild(cfg)
            return self._json({"config": cfg.to_dict(), "hash": cfg.to_hash()})
        if action == "reset":
            s.rebuild(s.run.cfg)
            return self._json({"ok": True})
        with s.cond:
            if action in ("play", "pause"):
                s.playing = action == "play"
                s.dirty = True     # a frame with the new state follows any in flight
            elif action == "step":
                s.pending += 1
            else:
                raise HTTPError(400, f"action must be play, pause, step, reset or "
                                     f"regenerate, got {action!r}")
            s.cond.notify_all()
        self._json({"ok": True})

    def post_api_upload(self, query: Any) -> None:
        s = self.app.session(query)
        raw = self._body(CSV_MAX_BYTES)
        cfg = s.run.cfg
        uploaded = parse_csv(raw, cfg.problem)
        n_classes = int(uploaded[1].max()) + 1 if cfg.problem == "classification" else None
        loss = "cross_entropy" if n_classes and n_classes > 2 else cfg.loss
        new = Config.from_dict({**cfg.to_dict(), "dataset": "upload", "loss": loss})
        s.rebuild(new, uploaded)
        self._json({"config": new.to_dict(), "hash": new.to_hash(),
                    "rows": len(uploaded[0]), "n_classes": n_classes})

    def _weight(self, query: Any) -> tuple[Session, list[str]]:
        s = self.app.session(query)
        try:
            return s, [query[k][0] for k in ("layer", "row", "col")]
        except KeyError as err:
            raise HTTPError(400, f"missing parameter {err}") from None

    def get_api_explain(self, query: Any) -> None:
        s, (layer, row, col) = self._weight(query)
        with s.cond:
            self._json(s.run.explain(layer, row, col))

    def get_api_gradient(self, query: Any) -> None:
        s, (layer, row, col) = self._weight(query)
        with s.cond:
            self._json({"gradient": s.run.gradient(layer, row, col), "steps": s.run.steps})

    def get_api_snippet(self, query: Any) -> None:
        s = self.app.session(query)
        with s.cond:
            self._json({"python": s.run.python_snippet(), "cli": s.run.cli_command(),
                        "steps": s.run.steps})

    def get_api_state(self, query: Any) -> None:
        s = self.app.session(query)
        with s.cond:
            h = s.run.history[-1] if s.run.history else (0, math.nan, math.nan)
            self._json({"steps": s.run.steps, "playing": s.playing,
                        "train_loss": h[1] if math.isfinite(h[1]) else None,
                        "test_loss": h[2] if math.isfinite(h[2]) else None,
                        "hash": s.run.cfg.to_hash()})

    def get_api_model(self, query: Any) -> None:
        s = self.app.session(query)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "playground.safetensors"
            with s.cond:
                s.run.save(path)
            body = path.read_bytes()
        self._send(200, body, "application/octet-stream",
                   {"Content-Disposition": 'attachment; filename="playground.safetensors"'})

    def get_api_stream(self, query: Any) -> None:
        s = self.app.session(query)
        with s.cond:
            s.stream += 1
            mine = s.stream
            s.dirty = True
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        sent_version = -1
        last_write = last_frame = time.monotonic()
        while not self.app.stopping.is_set():
            with s.cond:
                idle = not (s.playing or s.pending or s.dirty or s.version != sent_version)
                if idle:
                    s.cond.wait(timeout=KEEPALIVE_SECONDS)
                if s.stream != mine or self.app.stopping.is_set():
                    return  # a newer stream took over this session, or the server stops
                events = []
                if s.version != sent_version:
                    sent_version = s.version
                    events.append(("init", {"config": s.run.cfg.to_dict(),
                                            "hash": s.run.cfg.to_hash(),
                                            "points": s.run.points()}))
                if s.playing or s.pending or s.dirty:
                    run = s.run
                    if s.playing:
                        run.train(run.steps_per_epoch())
                    elif s.pending:
                        run.train(s.pending)
                        s.pending = 0
                    s.dirty = False
                    frame = run.frame()
                    frame["playing"] = s.playing
                    if not frame["finite"] and s.playing:
                        s.playing = False
                        frame["playing"] = False
                        frame["message"] = ("the weights or the loss became NaN/inf: paused. "
                                            "Lower the learning rate and reset.")
                    events.append(("frame", frame))
            now = time.monotonic()
            if not events and now - last_write < KEEPALIVE_SECONDS:
                continue
            payload = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n"
                              for name, data in events) or ": keep-alive\n\n"
            try:
                self.wfile.write(payload.encode())
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError, OSError):
                with s.cond:   # the tab went away: its run waits, paused
                    if s.stream == mine:
                        s.playing = False
                return
            last_write = now
            if events and events[-1][0] == "frame" and events[-1][1]["playing"]:
                wait = last_frame + self.app.min_interval - time.monotonic()
                if wait > 0:
                    self.app.stopping.wait(wait)
                last_frame = time.monotonic()
