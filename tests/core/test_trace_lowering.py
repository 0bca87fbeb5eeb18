"""The calls the compiled step replays: the softmax cross-entropy's (and its label errors),
the lowered forms of a maximum with a number."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim, trace
from chainrule.nn import functional as F
from chainrule.trace import _lowered, compile_step

N, D, C = 16, 6, 4


def mlp():
    return nn.Sequential(nn.Linear(D, 8, seed=0, dtype=np.float32), nn.ReLU(),
                         nn.Linear(8, C, seed=1, dtype=np.float32))


def batches(n, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((N, D)).astype(np.float32), rng.integers(0, C, N))
            for _ in range(n)]


def arrays(obj):
    if isinstance(obj, np.ndarray):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            yield from arrays(o)


def compiled(data):
    model = mlp()
    step = compile_step(model, F.cross_entropy, optim.Adam(model.parameters(), lr=1e-2))
    for x, y in data:
        step(x, y)
    assert step.stats["replayed"] == len(data) - 2
    return model, step


def test_the_loss_replays_cheap_forms():
    _, step = compiled(batches(4))
    (prog,) = step._programs.values()
    labels = prog.inputs[1]
    fns = [fn for fn, _ in prog.calls]
    # the labels are read twice: one reduction of their unsigned view checks their range
    # (−1 reads as 2⁶⁴ − 1), one addition makes the flat indices n·C + y
    readers = [fn for fn, args in prog.calls
               if any(np.shares_memory(a, labels) for a in arrays(args))]
    assert len(readers) == 2
    assert readers[0].__name__ == "reduce" and readers[0].__self__ is np.maximum
    assert readers[1] is np.add
    # the targets are read and written at those flat indices, without the Python wrappers
    assert trace._gather not in fns and trace._scatter not in fns
    assert fns.count(np.ndarray.take) == 2
    # no reduction runs along the class axis of the (N, C) logits: the row maxima reduce
    # a transposed copy, the row sums are a product with ones
    along_classes = [args for fn, args in prog.calls if getattr(fn, "__name__", "") == "reduce"
                     and args[0].shape == (N, C) and tuple(args[1]) == (1,)]
    assert not along_classes


@pytest.mark.parametrize("bad", [C, -1, 2**40])
def test_a_label_out_of_range_in_a_replay_raises_the_eager_error(bad):
    data = batches(5)
    model, step = compiled(data[:4])
    before = [p.numpy().copy() for p in model.parameters()]
    x, y = data[4]
    y = y.copy()
    y[3] = bad
    with pytest.raises(ValueError) as replayed:
        step(x, y)
    with pytest.raises(ValueError) as eager:
        F.cross_entropy(mlp()(cr.tensor(x)), y)
    assert str(replayed.value) == str(eager.value)
    assert f"class indices must be in [0, {C})" in str(eager.value)
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.numpy(), b)
    step(*data[4])  # a good batch replays again
    assert step.stats["replayed"] == 3


@pytest.mark.parametrize("uf", [np.maximum, np.minimum])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1,), (7,), (9, 7), (13, 10), (3, 67)])
def test_a_maximum_with_a_number_is_lowered_to_two_arrays_bit_for_bit(uf, dtype, shape):
    # relu's maximum(z, 0): NumPy vectorises the loop of two arrays only, so the replay
    # compares with a shared read-only array of the number; same bits, NaN and −0
    # included, in the vectorised part and in the tail
    z = np.zeros(shape, dtype)
    z.flat[::2] = -0.0
    z.flat[1::5] = np.nan
    z.flat[3::4] = -2.5
    z.flat[2::7] = 3.0
    for value in (0, -0.0, 1.5, float("nan"), np.array(0.5, dtype)):
        for args in ((z, value), (value, z)):
            want = uf(*args)
            out = np.empty_like(z)
            fn, lowered = _lowered(functools.partial(uf, out=out), args)
            full = [a for a in lowered if a is not z]
            assert len(full) == 1 and full[0].shape == z.shape
            assert not full[0].flags.writeable
            fn(*lowered)
            np.testing.assert_array_equal(out.view(np.uint8), want.view(np.uint8))


def test_the_relus_of_a_replay_compare_with_a_shared_array_of_zeros():
    _, step = compiled(batches(4))
    (prog,) = step._programs.values()
    relus = [args for fn, args in prog.calls if getattr(fn, "func", None) is np.maximum]
    assert len(relus) == 1
    (z, zeros), = relus
    assert zeros.shape == z.shape == (N, 8) and not zeros.any()
    # an int 0 and a shape no larger reuse the same memory
    out = np.empty((4, 8), np.float32)
    _, again = _lowered(functools.partial(np.maximum, out=out), (z[:4], 0))
    assert again[1].ctypes.data == zeros.ctypes.data
