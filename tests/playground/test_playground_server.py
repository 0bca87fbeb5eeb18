"""The server over HTTP (no browser): sessions, errors, closed streams, upload limits."""

import json
import urllib.error
import urllib.request

import pytest

from chainrule.playground.server import PlaygroundServer


@pytest.fixture
def server():
    srv = PlaygroundServer(0).start()
    yield srv
    srv.stop()


def call(srv, path, body=None, raw=False):
    data = None if body is None else (body if raw else json.dumps(body).encode())
    req = urllib.request.Request(srv.url.rstrip("/") + path, data=data,
                                 method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_page_and_assets_are_served_from_the_package(server):
    status, page = call(server, "/")
    assert status == 200 and b"/static/app.js" in page and b"http" not in page.replace(
        b"http://www.w3.org", b"")
    for name in ("app.js", "style.css"):
        assert call(server, f"/static/{name}")[0] == 200
    assert call(server, "/static/../server.py")[0] == 404


def test_sessions_are_separate_and_bad_requests_get_clear_errors(server):
    a = json.loads(call(server, "/api/session", {"hash": ""})[1])["sid"]
    b = json.loads(call(server, "/api/session", {"hash": "hidden=3&lr=0.1"})[1])
    assert a != b["sid"] and b["config"]["hidden"] == [3] and b["warning"] is None
    bad = json.loads(call(server, "/api/session", {"hash": "hidden=99"})[1])
    assert "hidden" in bad["warning"] and bad["config"]["hidden"] == [4, 2]
    status, body = call(server, f"/api/config?sid={a}", b"{not json", raw=True)
    assert status == 400 and b"malformed JSON" in body
    status, body = call(server, f"/api/config?sid={a}", {"lr": -1})
    assert status == 400 and b"lr must be in" in body
    assert call(server, "/api/state?sid=nope")[0] == 404
    assert call(server, "/api/nothing")[0] == 404
    status, body = call(server, f"/api/control?sid={a}", {"action": "explode"})
    assert status == 400 and b"action must be" in body
    status, body = call(server, f"/api/explain?sid={a}&layer=0&row=9&col=0")
    assert status == 400 and b"outside" in body
    status, body = call(server, f"/api/upload?sid={a}", b"1,2,3\n" * 400_000, raw=True)
    assert status == 413
    status, body = call(server, f"/api/upload?sid={a}", b"1,2\n" * 20, raw=True)
    assert status == 400 and b"expected 3 columns" in body
    state = json.loads(call(server, f"/api/state?sid={a}")[1])
    assert state["steps"] == 0 and "dataset=circle" in state["hash"]
    rows = "\n".join(f"{i},{i * i % 7},{int(i > 10)}" for i in range(20)).encode()
    status, body = call(server, f"/api/upload?sid={a}", rows, raw=True)
    assert status == 200 and json.loads(body)["rows"] == 20


def test_a_closed_stream_leaves_the_server_running(server):
    sid = json.loads(call(server, "/api/session", {})[1])["sid"]
    call(server, f"/api/control?sid={sid}", {"action": "play"})
    req = urllib.request.urlopen(server.url + f"api/stream?sid={sid}", timeout=10)
    first = req.readline() + req.readline()
    assert first.startswith(b"event: init")
    req.close()                                      # the tab goes away mid-training
    status, body = call(server, f"/api/control?sid={sid}", {"action": "step"})
    assert status == 200
    status, body = call(server, f"/api/snippet?sid={sid}")
    assert status == 200 and "TrainingStep" in json.loads(body)["python"]
    status, body = call(server, f"/api/model?sid={sid}")
    assert status == 200 and len(body) > 100


def test_a_diverging_run_pauses_with_a_message(server):
    # plane regression, linear 8-8 network, batch 1, learning rate 10: the weights overflow
    h = "dataset=plane&problem=regression&lr=10&activation=identity&hidden=8,8&batch_size=1"
    sid = json.loads(call(server, "/api/session", {"hash": h})[1])["sid"]
    call(server, f"/api/control?sid={sid}", {"action": "play"})
    stream = urllib.request.urlopen(server.url + f"api/stream?sid={sid}", timeout=30)
    message = None
    for line in stream:
        if line.startswith(b"data: ") and b'"message"' in line:
            message = json.loads(line[6:])["message"]
            break
    stream.close()
    assert "NaN/inf" in message
    state = json.loads(call(server, f"/api/state?sid={sid}")[1])
    assert state["playing"] is False and state["train_loss"] is None


def test_display_settings_go_to_the_url_without_restarting_the_run(server):
    sid = json.loads(call(server, "/api/session", {})[1])["sid"]
    call(server, f"/api/control?sid={sid}", {"action": "step"})
    stream = urllib.request.urlopen(server.url + f"api/stream?sid={sid}", timeout=10)
    for line in stream:                      # the stream runs the pending step
        if line.startswith(b"data: ") and b'"steps": 1,' in line:
            break
    stream.close()
    cfg = json.loads(call(server, f"/api/state?sid={sid}")[1])
    assert cfg["steps"] == 1
    status, body = call(server, f"/api/config?sid={sid}",
                        {"show_test": True, "discretize": True})
    assert status == 200 and "show_test=1&discretize=1" in json.loads(body)["hash"]
    assert json.loads(call(server, f"/api/state?sid={sid}")[1])["steps"] == 1   # same run
    call(server, f"/api/config?sid={sid}", {"show_test": True, "lr": 0.1})
    assert json.loads(call(server, f"/api/state?sid={sid}")[1])["steps"] == 0   # a new run
