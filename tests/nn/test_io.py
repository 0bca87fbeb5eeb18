"""Model files: bit-for-bit round trips for every built-in layer, atomic writes, clear errors
for missing, truncated, corrupted, foreign and mis-shaped files, general state-dict files."""

from __future__ import annotations

import json
import os
import struct

import numpy as np
import pytest
import safetensors.numpy as stn

import chainrule as cr
from chainrule import io, nn


def _x(shape, seed=0, dtype=np.float32):
    return cr.tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype))


def _every_layer_model():
    """One model holding every built-in layer type, trained a little so that BatchNorm's
    buffers are not at their initial values."""
    model = nn.Sequential(
        nn.Linear(6, 8, init="he", seed=0),
        nn.BatchNorm1d(8, momentum=None),
        nn.LeakyReLU(0.1), nn.ELU(0.5), nn.SELU(), nn.Softplus(2.0, 10.0), nn.GELU("tanh"),
        nn.SiLU(), nn.Swish(1.5), nn.Tanh(), nn.Sigmoid(), nn.ReLU(), nn.Identity(),
        nn.Residual(nn.Sequential(nn.Linear(8, 8, bias=False, seed=1), nn.GELU())),
        nn.LayerNorm(8, eps=1e-6),
        nn.Dropout(0.25, seed=0),
        nn.ModuleList([nn.Linear(8, 8, seed=2)])[0],
        nn.Linear(8, 3, seed=3),
        nn.Softmax(axis=-1), nn.LogSoftmax(dim=1),
    )
    for step in range(3):
        model(_x((16, 6), seed=step))
    return model.eval()


def test_round_trip_every_builtin_layer_bit_for_bit(tmp_path):
    model = _every_layer_model()
    path = tmp_path / "model.safetensors"
    cr.save(model, path)
    loaded = cr.load(path)
    assert type(loaded) is nn.Sequential and len(loaded) == len(model)
    assert [type(m) for m in loaded] == [type(m) for m in model]
    assert repr(loaded) == repr(model)
    assert not loaded.training
    for (k, v), (k2, v2) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and v.dtype == v2.dtype
        np.testing.assert_array_equal(v, v2, err_msg=k)
    x = _x((5, 6), seed=42)
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())


@pytest.mark.parametrize("layer,shape", [
    (nn.Linear(4, 3, seed=0), (2, 4)), (nn.BatchNorm1d(4), (5, 4)),
    (nn.BatchNorm1d(4, affine=False, track_running_stats=False), (5, 4)),
    (nn.LayerNorm((2, 3), bias=False), (4, 2, 3)), (nn.Flatten(1, 2), (2, 3, 4, 5)),
    (nn.Dropout(0.5), (3, 4)), (nn.ModuleList([nn.Linear(4, 2, seed=0)]), None),
    (nn.Residual(nn.Linear(4, 4, seed=1)), (2, 4)),
])
def test_round_trip_each_layer_alone(tmp_path, layer, shape):
    path = tmp_path / "layer.safetensors"
    if shape is not None:
        layer(_x(shape, seed=1))          # update buffers where there are any
    layer.eval()
    cr.save(layer, path)
    loaded = cr.load(path)
    assert type(loaded) is type(layer) and repr(loaded) == repr(layer)
    for k, v in layer.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[k], v, err_msg=k)
    if shape is not None:
        x = _x(shape, seed=2)
        np.testing.assert_array_equal(loaded(x).numpy(), layer(x).numpy())


def test_round_trip_keeps_float64_and_training_mode(tmp_path):
    model = nn.Sequential(nn.Linear(3, 2, seed=0), nn.BatchNorm1d(2)).to(np.float64)
    cr.save(model, tmp_path / "m.safetensors")
    loaded = cr.load(tmp_path / "m.safetensors")
    assert all(p.dtype == np.float64 for p in loaded.parameters())
    assert loaded.training and all(m.training for m in loaded.modules())


def test_file_is_plain_safetensors_with_json_metadata(tmp_path):
    model = nn.Sequential(nn.Linear(3, 2, seed=0))
    path = str(tmp_path / "m.safetensors")
    cr.save(model, path, metadata={"note": "hello"})
    arrays = stn.load_file(path)                       # readable by safetensors itself
    assert sorted(arrays) == ["0.bias", "0.weight"]
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        meta = json.loads(f.read(n))["__metadata__"]
    assert meta["format"] == "chainrule" and meta["chainrule_version"] == cr.__version__
    arch = json.loads(meta["architecture"])
    assert arch["model"]["class"] == "Sequential"
    assert io.load_state_dict_file(path)[1] == {"note": "hello"}


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    cr.save(nn.Linear(2, 2, seed=0), path)
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        cr.save(nn.Linear(2, 2, seed=1), path)
    assert path.read_bytes() == before                 # the old file is intact
    assert os.listdir(tmp_path) == ["m.safetensors"]   # and the temporary file is gone


def test_missing_file_and_directory(tmp_path):
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(FileNotFoundError, match=r"nope\.safetensors"):
        cr.load(missing)
    with pytest.raises(FileNotFoundError, match=r"nope\.safetensors"):
        io.load_state_dict_file(missing)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        cr.save(nn.ReLU(), tmp_path / "no_dir" / "m.safetensors")
    with pytest.raises(ValueError, match="is a directory"):
        cr.load(tmp_path)


def test_truncated_file_is_a_clear_error(tmp_path):
    path = tmp_path / "m.safetensors"
    cr.save(nn.Sequential(nn.Linear(20, 10, seed=0)), path)
    data = path.read_bytes()
    half = tmp_path / "half.safetensors"
    half.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"half\.safetensors: truncated safetensors file"):
        cr.load(half)
    header_cut = tmp_path / "header_cut.safetensors"
    header_cut.write_bytes(data[:40])
    with pytest.raises(ValueError, match=r"header_cut\.safetensors: truncated"):
        cr.load(header_cut)
    tiny = tmp_path / "tiny.safetensors"
    tiny.write_bytes(data[:5])
    with pytest.raises(ValueError, match=r"tiny\.safetensors: not a safetensors file"):
        cr.load(tiny)


@pytest.mark.parametrize("content", [b"hello, this is a text file\n" * 10, b"",
                                     b"\x80\x04\x95 pickle-like bytes" * 4,
                                     b"PK\x03\x04 a zip archive" + bytes(100)])
def test_foreign_file_is_a_clear_error(tmp_path, content):
    path = tmp_path / "foreign.bin"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"foreign\.bin: not a safetensors file"):
        cr.load(path)
    with pytest.raises(ValueError, match=r"foreign\.bin"):
        io.load_state_dict_file(path)


def test_corrupted_header_and_bytes(tmp_path):
    path = tmp_path / "m.safetensors"
    cr.save(nn.Linear(3, 2, seed=0), path)
    data = bytearray(path.read_bytes())
    bad_json = bytearray(data)
    bad_json[9] = ord("#")
    (tmp_path / "bad.safetensors").write_bytes(bytes(bad_json))
    with pytest.raises(ValueError, match=r"bad\.safetensors: corrupted .*not valid JSON"):
        cr.load(tmp_path / "bad.safetensors")


def test_wrong_shape_in_file_names_the_key_and_both_shapes(tmp_path):
    path = tmp_path / "m.safetensors"
    cr.save(nn.Sequential(nn.Linear(3, 2, seed=0)), path)
    arrays, _ = io.load_state_dict_file(path)
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        meta = json.loads(f.read(n))["__metadata__"]
    del meta["sha256"]  # rewritten as another tool would: without chainrule's checksum
    arrays["0.weight"] = np.zeros((3, 2), np.float32)      # transposed
    stn.save_file(arrays, str(path), metadata=meta)
    with pytest.raises(ValueError, match=r"m\.safetensors: the weights do not fit.*'0\.weight'"
                                         r".*\(2, 3\).*\(3, 2\)"):
        cr.load(path)


def test_inconsistent_tensor_bytes_are_a_clear_error(tmp_path):
    # the header declares a shape whose byte size does not match the offsets
    path = tmp_path / "m.safetensors"
    io.save_state_dict({"w": np.zeros((2, 2), np.float32)}, path)
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header["w"]["shape"] = [3, 3]
    new_header = json.dumps(header).encode()
    new_header += b" " * (-len(new_header) % 8)
    path.write_bytes(struct.pack("<Q", len(new_header)) + new_header + data[8 + n:])
    with pytest.raises(ValueError, match=r"m\.safetensors: corrupted safetensors file"):
        io.load_state_dict_file(path)


def test_state_dict_key_mismatch_names_the_key(tmp_path):
    model = nn.Sequential(nn.Linear(3, 2, seed=0), nn.ReLU(), nn.Linear(2, 1, seed=1))
    path = tmp_path / "m.safetensors"
    io.save_state_dict(model.state_dict(), path)
    state, _ = io.load_state_dict_file(path)
    other = nn.Sequential(nn.Linear(3, 2, seed=0), nn.Linear(2, 1, seed=1))
    with pytest.raises(ValueError, match=r"missing key\(s\): '1\.weight', '1\.bias'.*"
                                         r"unexpected key\(s\): '2\.weight', '2\.bias'"):
        other.load_state_dict(state)


def test_weights_only_file_explains_the_load_state_dict_path(tmp_path):
    model = nn.Sequential(nn.Linear(3, 2, seed=0))
    path = tmp_path / "w.safetensors"
    io.save_state_dict(model.state_dict(), path)
    with pytest.raises(ValueError, match=r"no chainrule architecture.*load_state_dict"):
        cr.load(path)
    stn.save_file({"a": np.ones(2)}, str(tmp_path / "other.safetensors"))
    state, meta = io.load_state_dict_file(tmp_path / "other.safetensors")
    assert meta == {} and state["a"].tolist() == [1.0, 1.0]


class MyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 4, seed=0), nn.ReLU())
        self.head = nn.Linear(4, 1, seed=1)

    def forward(self, x):
        return self.head(self.body(x))


def test_custom_module_saves_but_load_explains_how_to_rebuild(tmp_path):
    model = MyNet()
    path = tmp_path / "custom.safetensors"
    cr.save(model, path)
    with pytest.raises(ValueError, match=r"custom\.safetensors: the architecture names module "
                                         r"'.*MyNet', which is not a built-in or registered "
                                         r"chainrule module.*load_state_dict"):
        cr.load(path)
    fresh = MyNet()
    fresh.head.weight.data = fresh.head.weight.data * 0
    fresh.load_state_dict(io.load_state_dict_file(path)[0])
    x = _x((2, 3))
    np.testing.assert_array_equal(fresh(x).numpy(), model(x).numpy())
    # a built-in container holding a custom module cannot be rebuilt either
    cr.save(nn.Sequential(MyNet()), path)
    with pytest.raises(ValueError, match="MyNet"):
        cr.load(path)


def test_registered_custom_module_round_trips(tmp_path):
    @nn.register_module
    class Scale(nn.Module):
        def __init__(self, n, value=2.0):
            super().__init__()
            self.n, self.value = n, value
            self.s = nn.Parameter(np.full(n, value, np.float32))

        def forward(self, x):
            return x * self.s

        def _config(self):
            return {"n": self.n, "value": self.value}

    try:
        model = nn.Sequential(nn.Linear(2, 3, seed=0), Scale(3, 0.5))
        cr.save(model, tmp_path / "r.safetensors")
        loaded = cr.load(tmp_path / "r.safetensors")
        x = _x((4, 2))
        np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
    finally:
        del nn.MODULES["Scale"]


def test_tampered_architecture_is_a_clear_error(tmp_path):
    path = tmp_path / "m.safetensors"
    io._write({}, path, None, {"model": {"class": "Linear", "config": {"in_features": -1,
                                                                       "out_features": 2}}})
    with pytest.raises(ValueError, match=r"m\.safetensors: cannot construct Linear"):
        cr.load(path)
    io._write({}, path, None, {"model": {"class": "os.system", "config": {"command": "ls"}}})
    with pytest.raises(ValueError, match=r"'os\.system', which is not a built-in"):
        cr.load(path)


def test_save_state_dict_validation(tmp_path):
    path = tmp_path / "s.safetensors"
    with pytest.raises(TypeError, match="must be JSON-serialisable"):
        io.save_state_dict({"w": np.zeros(2)}, path, metadata={"f": object()})
    with pytest.raises(TypeError, match=r"state\['w'\] must be an ndarray or a Tensor"):
        io.save_state_dict({"w": [1.0, 2.0]}, path)
    with pytest.raises(ValueError, match="cannot store"):
        io.save_state_dict({"w": np.array(["a"])}, path)
    assert not path.exists()
    io.save_state_dict({"t": cr.tensor([1.0, 2.0]), "step": np.array(7)}, path,
                       metadata={"lr": [0.1, 0.01], "nested": {"ok": True}})
    state, meta = io.load_state_dict_file(path)
    assert state["t"].dtype == np.float32 and int(state["step"]) == 7
    assert meta == {"lr": [0.1, 0.01], "nested": {"ok": True}}
    state["t"][0] = 5.0                                  # writable arrays
