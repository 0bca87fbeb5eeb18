"""Nothing lost around the checkpoint: locks, all-or-nothing resume, finite checkpoints,
hostile or damaged files, the finiteness of inputs after their cast, reproducible files."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time

import numpy as np
import pytest

import chainrule as cr
from chainrule import io, nn, optim
from chainrule.train import (
    Callback,
    EarlyStopping,
    ModelCheckpoint,
    NonFiniteLossError,
    TrainingError,
    fit,
    load_checkpoint,
    save_checkpoint,
)
from chainrule.train.checkpoint import FolderLockedError, lock_folder


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    return (X[:40], y[:40]), (X[40:], y[40:])


def _model():
    return nn.Sequential(nn.Linear(3, 6, seed=0), nn.ReLU(), nn.Dropout(0.2, seed=1),
                         nn.Linear(6, 2, seed=2))


def _fit(model, opt, ckpt, epochs=2, **kw):
    train, dev = _data()
    return fit(model, "cross_entropy", opt, train, dev, epochs=epochs, batch_size=8, seed=3,
               callbacks=[EarlyStopping(patience=5)], checkpoint_dir=ckpt, progress=False,
               **kw)


def _holder(folder, ready):
    """A subprocess that holds ``folder``'s lock until it is killed."""
    code = ("import sys, time; from chainrule.train.checkpoint import lock_folder; "
            f"lock_folder({str(folder)!r}); open({str(ready)!r}, 'w').write('1'); "
            "time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "holder did not start"
        time.sleep(0.02)
    return proc


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# ----------------------------------------------------------------------------- item 2
def test_a_second_writer_is_refused_naming_the_holder_and_a_dead_ones_lock_is_taken(tmp_path):
    ckpt = tmp_path / "ck"
    holder = _holder(ckpt, tmp_path / "ready")
    try:
        with pytest.raises(FolderLockedError, match=f"in use by process {holder.pid}"):
            _fit(_model(), optim.Adam(_model().parameters()), ckpt)
        assert not (ckpt / "last.safetensors").exists()  # the refused run wrote nothing
    finally:
        holder.kill()
        holder.wait()
    # the holder died with the lock file still there: it is taken over
    assert (ckpt / ".lock").read_text() == str(holder.pid)
    model = _model()
    _fit(model, optim.Adam(model.parameters()), ckpt)
    assert load_checkpoint(ckpt / "last.safetensors")["epoch"] == 2
    assert not (ckpt / ".lock").exists()  # released at the end of training


def test_lock_is_reentrant_in_one_process_and_released_on_exit(tmp_path):
    with lock_folder(tmp_path) as a:
        with lock_folder(tmp_path) as b:
            assert a is b and a.held
        assert a.held
    assert not a.held and not (tmp_path / ".lock").exists()


def test_only_stale_temporary_files_are_removed(tmp_path):
    ckpt = tmp_path / "ck"
    ckpt.mkdir()
    alive = ckpt / f".last.safetensors.{os.getppid()}.aaaa.tmp"  # a live writer's
    dead = ckpt / f".last.safetensors.{_dead_pid()}.bbbb.tmp"
    alive.write_bytes(b"in progress")
    dead.write_bytes(b"left by a killed run")
    model = _model()
    _fit(model, optim.Adam(model.parameters()), ckpt)
    assert alive.exists() and not dead.exists()


# ----------------------------------------------------------------------------- item 4
def _tampered(tmp_path, change):
    """A 2-epoch checkpoint with ``change(state)`` applied, saved to a new file."""
    model = _model()
    _fit(model, optim.Adam(model.parameters(), lr=0.01), tmp_path / "src")
    state = load_checkpoint(tmp_path / "src" / "last.safetensors")
    change(state)
    path = tmp_path / "bad.safetensors"
    save_checkpoint(path, state)
    return path


def _set(*keys_and_value):
    *keys, value = keys_and_value

    def change(state):
        target = state
        for k in keys[:-1]:
            target = target[k]
        target[keys[-1]] = value
    return change


@pytest.mark.parametrize("change,message", [
    (_set("epoch", -100), r"epoch must be >= 0, got -100"),
    (_set("epoch", 10**30), r"epoch is 1000000000000000000000000000000 but the history "
                            r"holds 2"),
    (_set("epoch", 2.7), r"epoch must be an int, got 2\.7"),
    (_set("stop_training", "no"), r"stop_training must be a bool"),
    (_set("callbacks", 0, "state", [1, 2]), r"callbacks\[0\] \(EarlyStopping\): expected a "
                                            r"dict, got list"),
    (_set("callbacks", 0, "state", "wait", "x"), r"callbacks\[0\].*'wait'.*expected a number"),
    (_set("loader", "bit_generator", {"state": 1}), r"loader: .*bit_generator"),
    (_set("generators", "2:_gen", {"bit_generator": "MT19937"}), r"generators\['2:_gen'\]"),
    (_set("global_rng", [1]), r"global_rng: not a state"),
    (_set("optimizer", "state", 0, "exp_avg", np.zeros(5)), r"\['exp_avg'\] has shape \(5,\)"),
    (_set("optimizer", "param_groups", 0, "lr", "fast"), r"\['lr'\]: expected a number"),
    (_set("model", "0.weight", np.full((6, 3), np.inf)), r"model\['0\.weight'\] holds NaN"),
])
def test_a_bad_resume_state_is_refused_naming_the_field_and_changes_nothing(
        tmp_path, change, message):
    path = _tampered(tmp_path, change)
    model = _model()
    opt = optim.Adam(model.parameters(), lr=0.01)
    es = EarlyStopping(patience=5)
    before = {k: v.copy() for k, v in model.state_dict().items()}
    opt_before = opt.state_dict()
    train, dev = _data()
    with pytest.raises(TrainingError, match=message):
        fit(model, "cross_entropy", opt, train, dev, epochs=4, batch_size=8, seed=3,
            callbacks=[es], checkpoint_dir=tmp_path / "new", resume=path, progress=False)
    for k, v in model.state_dict().items():
        assert np.array_equal(v, before[k]), k
    assert opt.state_dict() == opt_before and opt.param_groups[0]["lr"] == 0.01
    assert es.best_epoch is None and es.wait == 0


def test_an_adam_checkpoint_does_not_resume_into_sgd_with_momentum(tmp_path):
    model = _model()
    _fit(model, optim.Adam(model.parameters(), lr=0.01), tmp_path)
    model = _model()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    with pytest.raises(TrainingError, match=r"its parameter group 0 has the hyperparameters "
                                            r"\[.*'betas'.*\], this optimizer's has \[.*"
                                            r"'momentum'"):
        _fit(model, opt, tmp_path, epochs=4, resume=True)
    assert all(np.array_equal(v, before[k]) for k, v in model.state_dict().items())
    assert opt.param_groups[0]["momentum"] == 0.9


def test_a_deeply_nested_checkpoint_is_a_value_error(tmp_path):
    nested = "[" * 5000 + "]" * 5000
    path = tmp_path / "deep.safetensors"
    meta = {"format": "chainrule.train.checkpoint/1", "state": f'{{"epoch": {nested}}}'}
    path.write_bytes(io.serialize({}, meta))
    with pytest.raises(ValueError, match=r"deep\.safetensors.*nested more than"):
        load_checkpoint(path)


# ----------------------------------------------------------------------------- item 5
class _Blowup(Callback):
    """Sets an absurd learning rate from epoch 3 on: its first step makes the weights inf."""

    def on_epoch_begin(self, trainer, epoch):
        if epoch == 3:
            trainer.optimizer.param_groups[0]["lr"] = 1e39


def test_no_checkpoint_with_nonfinite_weights_and_the_message_names_the_good_one(tmp_path):
    model = nn.Sequential(nn.Linear(3, 6, seed=0), nn.Tanh(), nn.Linear(6, 2, seed=2))
    train, dev = _data()
    with pytest.raises(NonFiniteLossError, match=r"after epoch 3 the dev loss is nan.*the "
                                                 r"last checkpoint .*epoch 2\) holds finite"):
        fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), train, dev,
            epochs=5, batch_size=None, callbacks=[_Blowup()], checkpoint_dir=tmp_path,
            progress=False)
    state = load_checkpoint(tmp_path / "last.safetensors")
    assert state["epoch"] == 2
    assert all(np.isfinite(a).all() for a in state["model"].values())


def test_nonfinite_first_epoch_writes_no_checkpoint(tmp_path):
    model = nn.Sequential(nn.Linear(3, 6, seed=0), nn.Tanh(), nn.Linear(6, 2, seed=2))
    train, dev = _data()
    with pytest.raises(NonFiniteLossError, match="no finite checkpoint has been written yet"):
        fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=1e39), train, dev,
            epochs=3, batch_size=None, checkpoint_dir=tmp_path, progress=False)
    assert not (tmp_path / "last.safetensors").exists()


# ----------------------------------------------------------------------------- item 6
def _model_file(path, arch, arrays, arch_text=None):
    meta = {"format": "chainrule", "chainrule_version": "0", "metadata": "null",
            "keys": json.dumps(sorted(arrays)),
            "architecture": arch_text or json.dumps(arch)}
    path.write_bytes(io.serialize(arrays, meta))


def test_a_small_file_declaring_huge_layers_is_refused_before_building(tmp_path):
    path = tmp_path / "hostile.safetensors"
    linear = {"class": "Linear", "config": {"in_features": 10**8, "out_features": 10**8,
                                            "bias": True, "dtype": "float32"}}
    _model_file(path, {"model": linear, "training": False},
                {"weight": np.zeros((2, 2), np.float32), "bias": np.zeros(2, np.float32)})
    assert path.stat().st_size < 2000
    with pytest.raises(ValueError, match=r"hostile\.safetensors: the architecture declares "
                                         r"about 10,000,000,000,000,000 elements.*only 6"):
        cr.load(path)


def test_a_deeply_nested_architecture_is_a_value_error(tmp_path):
    depth = 3000
    spec = ('{"class": "Sequential", "config": {"modules": [{"__module__": ' * depth
            + '{"class": "ReLU", "config": {}}' + "}]}}" * depth)
    path = tmp_path / "deep.safetensors"
    _model_file(path, None, {}, arch_text=f'{{"model": {spec}, "training": false}}')
    with pytest.raises(ValueError, match=r"deep\.safetensors.*nested more than"):
        cr.load(path)


def test_a_real_model_is_far_inside_the_build_budget(tmp_path):
    model = nn.Sequential(nn.Linear(300, 200, seed=0), nn.ReLU(), nn.Linear(200, 10, seed=1))
    cr.save(model, tmp_path / "m.safetensors")
    loaded = cr.load(tmp_path / "m.safetensors")
    assert np.array_equal(loaded[0].weight.data, model[0].weight.data)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_an_estimator_file_with_huge_declared_layers_is_refused(tmp_path):
    from chainrule.sklearn import MLPClassifier

    X, y = _data()[0]
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X, y)
    path = tmp_path / "est.safetensors"
    est.save(path)
    arrays, meta = io.load_state_dict_file(path)
    meta["params"]["hidden_layer_sizes"] = [10**12]
    io.save_state_dict(arrays, path, meta)
    with pytest.raises(ValueError, match=r"est\.safetensors: corrupted estimator file: its "
                                         r"layer sizes \[3, 1000000000000, 1\]"):
        MLPClassifier.load(path)


# ----------------------------------------------------------------------------- item 8
def test_inputs_that_overflow_the_model_dtype_are_named(tmp_path):
    train, _dev = _data()
    X = train[0].copy()
    X[4, 2] = 1e39  # finite in float64, inf in float32
    model = _model()
    with pytest.raises(ValueError, match=r"train_data X contains inf at row 4, column 2: a "
                                         r"finite value overflowed float32"):
        fit(model, "cross_entropy", optim.Adam(model.parameters()), (X, train[1]), epochs=1,
            progress=False)
    with pytest.raises(TypeError, match=r"train_data X is complex"):
        fit(model, "cross_entropy", optim.Adam(model.parameters()),
            (train[0] + 1j, train[1]), epochs=1, progress=False)


# ------------------------------------------------------------------- item 9, SHA-256
def test_bf16_tensors_are_an_unsupported_dtype(tmp_path):
    header = json.dumps({"w": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}})
    path = tmp_path / "bf16.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header.encode() + b"\0" * 4)
    with pytest.raises(ValueError, match=r"bf16\.safetensors: tensor 'w' has dtype BF16, which "
                                         r"chainrule does not support"):
        io.load_state_dict_file(path)


def _header(path):
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), 8 + n


def test_model_files_are_byte_reproducible_and_share_the_checkpoint_mode(tmp_path):
    model = _model()
    cr.save(model, tmp_path / "a.safetensors", metadata={"z": 1, "a": 2})
    cr.save(model, tmp_path / "b.safetensors", metadata={"z": 1, "a": 2})
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()
    meta = _header(tmp_path / "a.safetensors")[0]["__metadata__"]
    assert list(meta) == sorted(meta)
    save_checkpoint(tmp_path / "c.safetensors", {"w": np.ones(2)})
    modes = {os.stat(tmp_path / f).st_mode & 0o777 for f in ("a.safetensors", "c.safetensors")}
    assert modes == {0o644}


@pytest.mark.parametrize("kind", ["model", "checkpoint"])
def test_a_flipped_byte_in_the_tensors_is_a_corruption_error(tmp_path, kind):
    path = tmp_path / "f.safetensors"
    if kind == "model":
        cr.save(_model(), path)
        load = cr.load
    else:
        save_checkpoint(path, {"w": np.arange(4.0)})
        load = load_checkpoint
    header, start = _header(path)
    assert len(header["__metadata__"]["sha256"]) == 64
    data = bytearray(path.read_bytes())
    data[start + 5] ^= 0x01  # one bit of one weight: still a well-formed file
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"f\.safetensors: corrupted file: the SHA-256"):
        load(path)


def test_files_of_other_tools_without_a_checksum_load_as_before(tmp_path):
    from safetensors.numpy import save_file

    save_file({"w": np.arange(3.0)}, str(tmp_path / "o.safetensors"), metadata={"k": "v"})
    state, meta = io.load_state_dict_file(tmp_path / "o.safetensors")
    assert state["w"].tolist() == [0.0, 1.0, 2.0] and meta == {"k": "v"}


def test_model_checkpoint_keeps_its_directory_clean(tmp_path):
    model = _model()
    _fit(model, optim.Adam(model.parameters()), tmp_path / "ck")
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["last.safetensors"]
    assert isinstance(ModelCheckpoint(tmp_path).last_path, str)
