"""`chainrule playground`: the headless replay and a clean stop on Ctrl-C."""

import os
import signal
import subprocess
import sys
import urllib.request

import pytest
from typer.testing import CliRunner

from chainrule.cli import app
from chainrule.playground.core import Config, Run


def test_replay_prints_the_runs_losses(tmp_path):
    cfg = Config(dataset="xor", hidden=[5], optimizer="adam", lr=0.01)
    run = Run(cfg)
    run.train(40)
    train, test = run.losses()
    out = tmp_path / "m.safetensors"
    result = CliRunner().invoke(app, ["playground", "--replay", cfg.to_hash(), "--steps", "40",
                                      "--save", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"train loss {train:.6f}  test loss {test:.6f}"
    assert out.is_file()
    bad = CliRunner().invoke(app, ["playground", "--replay", "hidden=1,99", "--steps", "1"])
    assert bad.exit_code == 2 and "hidden must be" in bad.output


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
def test_serves_then_stops_cleanly_on_ctrl_c():
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "chainrule", "playground", "--no-browser"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("chainrule playground at http://127.0.0.1:"), line
        url = line.split(" at ")[1].split()[0]
        with urllib.request.urlopen(url, timeout=10) as r:
            assert r.status == 200 and b"chainrule playground" in r.read()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "playground stopped" in out and "Traceback" not in err
