"""Heat-map updates per second of ``chainrule playground`` for the default network.

    python bench/playground.py [--seconds 3]

The default network is TensorFlow Playground's: circle data (250 training points), features
x₁ x₂, hidden layers 4-2, tanh, batch 10, SGD 0.03. One update is what the page receives
while playing: one epoch of training (25 mini-batch steps through ``TrainingStep``), the
train and test losses, the 100×100 output map, the 20×20 map of each neuron and the weights.

Two figures, target ≥ 20 updates per second:

- *in process*: ``Run.train`` + ``Run.frame`` + the JSON encoding, in a loop;
- *end to end*: the server streams frames over server-sent events to a client in this
  process reading them off the socket (what a browser tab gets; drawing excluded), with the
  server's frame cap (30 per second per tab, ``max_fps``) lifted to measure the capacity.

Not a test: it prints, it does not assert. One BLAS thread. On a shared machine, report the
load (printed first) with the figure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from chainrule.playground.core import Config, Run
from chainrule.playground.server import PlaygroundServer


def in_process(seconds: float) -> float:
    run = Run(Config())
    run.train(run.steps_per_epoch())
    json.dumps(run.frame())                         # warm-up
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        run.train(run.steps_per_epoch())
        json.dumps(run.frame())
        n += 1
    return n / (time.perf_counter() - t0)


def end_to_end(seconds: float) -> float:
    srv = PlaygroundServer(0, max_fps=0).start()
    try:
        def post(path: str, body: dict) -> dict:
            req = urllib.request.Request(srv.url + path, json.dumps(body).encode(),
                                         {"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.loads(r.read())

        sid = post("api/session", {})["sid"]
        stream = urllib.request.urlopen(srv.url + f"api/stream?sid={sid}", timeout=30)
        post(f"api/control?sid={sid}", {"action": "play"})
        n, t0 = 0, None
        for line in stream:
            if line.startswith(b"event: frame"):
                if t0 is None:
                    t0 = time.perf_counter()
                    continue
                n += 1
                if time.perf_counter() - t0 >= seconds:
                    break
        stream.close()
        return n / (time.perf_counter() - t0)
    finally:
        srv.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    print(f"in process:  {in_process(args.seconds):6.1f} heat-map updates/s (target >= 20)")
    print(f"end to end:  {end_to_end(args.seconds):6.1f} heat-map updates/s (target >= 20)")


if __name__ == "__main__":
    main()
