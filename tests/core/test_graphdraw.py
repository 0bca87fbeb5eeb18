"""The drawn computational graph: values and gradients at the right nodes, the chain rule
in numbers equal to backward(), module boxes, the node limit, the graph command, bad input."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from typer.testing import CliRunner

import chainrule as cr
from chainrule import graphdraw, nn
from chainrule.cli import app
from chainrule.graphexpr import parse_assignments, parse_expression
from chainrule.nn import functional as F
from doctest_helper import check_doctests

SVG = "{http://www.w3.org/2000/svg}"


def seed_example():
    """f(x, y, z) = (x + y)·z at (−2, 5, −4): q = 3, f = −12; ∂f/∂q = z = −4,
    ∂f/∂z = q = 3, ∂f/∂x = ∂f/∂y = ∂f/∂q · 1 = −4."""
    x = cr.tensor(-2.0, requires_grad=True)
    y = cr.tensor(5.0, requires_grad=True)
    z = cr.tensor(-4.0, requires_grad=True)
    q = x + y
    f = q * z
    return f, {"x": x, "y": y, "z": z, "q": q, "f": f}


def svg_boxes(path):
    """``first line of a node box → its text lines``, and the number of edges, from an SVG."""
    root = ET.parse(path).getroot()
    boxes, edges = {}, 0
    for g in root.iter(f"{SVG}g"):
        gid = g.get("id", "")
        if gid.startswith("node-"):
            lines = [t.text for t in g.iter(f"{SVG}text")]
            boxes[lines[0]] = lines[1:]
        elif gid.startswith("edge-"):
            edges += 1
    return boxes, edges


def test_seed_svg_holds_values_and_gradients_at_the_right_nodes(tmp_path):
    f, names = seed_example()
    path = tmp_path / "seed.svg"
    fig = cr.draw(f, path, names=names)
    boxes, edges = svg_boxes(path)
    assert boxes["f = q · z"] == ["value -12", "grad 1"]
    assert boxes["q = x + y"] == ["value 3", "grad -4"]   # ∂f/∂q = z = −4
    assert boxes["z"] == ["value -4", "grad 3"]           # ∂f/∂z = q = 3
    assert boxes["x"] == ["value -2", "grad -4"]
    assert boxes["y"] == ["value 5", "grad -4"]
    # the graph has 5 nodes (x, y, z, q, f) and 4 edges (x→q, y→q, q→f, z→f)
    assert len(boxes) == 5 and edges == 4
    assert len(fig.chainrule_graph.nodes) == 5 and len(fig.chainrule_graph.edges) == 4
    # no .grad was touched: the gradients were computed apart
    assert names["x"].grad is None


def test_node_and_edge_counts_equal_the_graphs():
    # walk the engine's graph independently: every Tensor and every non-Tensor input
    rng = np.random.default_rng(3)
    a = cr.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    b = cr.tensor(rng.standard_normal(4), requires_grad=True)
    c = cr.tensor(rng.standard_normal((3, 4)))  # a constant input
    out = (((a * a + b) * 2.0).tanh() - c).sum()
    seen, stack, n_edges, n_consts = set(), [out], 0, 0
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if t._ctx is not None:
            n_edges += len(t._ctx.parents)
            for p in t._ctx.parents:
                if isinstance(p, cr.Tensor):
                    stack.append(p)
                else:
                    n_consts += 1
    graph = graphdraw.build_graph(out)
    assert len(graph.nodes) == len(seen) + n_consts
    assert len(graph.edges) == n_edges
    # x * x uses x twice: two edges
    assert sum(1 for e in graph.edges if e == (id(a), graph.edges[0][1])) == 2
    dot = cr.to_dot(out)
    assert dot.count(" -> ") == n_edges
    assert dot.count("[label=") == len(seen) + n_consts


def test_explain_backward_gives_the_seed_rows(capsys):
    f, names = seed_example()
    rows = cr.explain_backward(f, names=names)
    expected = [
        "q = x + y = 3",
        "f = q · z = -12",
        "∂f/∂q = z = -4",
        "∂f/∂z = q = 3",
        "∂f/∂x = ∂f/∂q · ∂q/∂x = -4 · 1 = -4",
        "∂f/∂y = ∂f/∂q · ∂q/∂y = -4 · 1 = -4",
    ]
    assert rows.lines() == expected
    assert capsys.readouterr().out.splitlines() == expected
    assert {k: float(v) for k, v in rows.grads().items()} == {
        "q": -4.0, "z": 3.0, "x": -4.0, "y": -4.0}
    term = rows.backward[2].terms[0]   # ∂f/∂x through q
    assert (term.user, term.local, float(term.local_value), float(term.upstream)) == (
        "q", "1", 1.0, -4.0)


def test_explain_backward_gradients_equal_backward_on_a_random_graph():
    rng = np.random.default_rng(15)
    leaves = [cr.tensor(rng.standard_normal((3, 2)), requires_grad=True) for _ in range(3)]
    leaves.append(cr.tensor(rng.standard_normal(2), requires_grad=True))  # broadcast
    pool = list(leaves)
    unary = [lambda t: t.tanh(), lambda t: t.sigmoid(), lambda t: (t * 0.3).exp(),
             lambda t: t * t, lambda t: -t]
    binary = [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a - b,
              lambda a, b: a / (1.0 + b * b)]
    for _ in range(25):
        if rng.random() < 0.4:
            t = unary[rng.integers(len(unary))](pool[rng.integers(len(pool))])
        else:
            i, j = rng.integers(len(pool), size=2)
            t = binary[rng.integers(len(binary))](pool[i], pool[j])
        pool.append(t)
    out = (pool[-1] * pool[-2]).sum() + pool[-5].mean()
    names = {f"w{i}": w for i, w in enumerate(leaves)}
    rows = cr.explain_backward(out, names=names, echo=False)
    out.backward()
    grads = rows.grads()
    for n, w in names.items():
        np.testing.assert_allclose(grads[n], w.grad.numpy(), rtol=1e-12, atol=1e-14)
    assert len(rows.backward) == sum(1 for t in graphdraw.build_graph(out).tensors.values()
                                     if t is not None and t.requires_grad) - 1


def test_array_rows_write_the_primitives_rule():
    rng = np.random.default_rng(0)
    W = cr.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    x = cr.tensor(rng.standard_normal(3))
    h = (W @ x).tanh()
    L = h.sum()
    rows = cr.explain_backward(L, names={"W": W, "x": x, "h": h}, echo=False)
    by_name = {r.name: r for r in rows.backward}
    # MatMul's rule ∂L/∂y = xᵀ @ ∂L/∂z, written in the nodes' names
    assert "∂L/∂t1" in str(by_name["W"]) and str(by_name["W"]).startswith("∂L/∂W = ")
    L.backward()
    np.testing.assert_allclose(by_name["W"].grad, W.grad.numpy(), rtol=1e-12)


def test_a_fused_layer_names_its_activation():
    # nn.Sequential runs Linear + Sigmoid and Linear + ReLU as one node each; the drawn rule
    # names the activation it ran instead of the docstring's placeholder φ
    model = nn.Sequential(nn.Linear(2, 3, seed=0), nn.Sigmoid(), nn.Linear(3, 2, seed=1),
                          nn.ReLU())
    x = cr.tensor(np.ones((1, 2)), requires_grad=True)
    L = model(x).sum()
    rows = cr.explain_backward(L, names={"x": x}, echo=False)
    text = str(rows)
    assert "t3 = σ(x @ t1ᵀ + t2)" in text and "t6 = relu(t3 @ t4ᵀ + t5)" in text
    assert "∂L/∂x = (∂L/∂t3⊙σ′) @ t1" in text and "φ" not in text
    by_name = {r.name: r for r in rows.backward}
    L.backward()
    np.testing.assert_allclose(by_name["x"].grad, x.grad.numpy(), rtol=1e-12)


def small_mlp():
    model = nn.Sequential(nn.Linear(6, 5, seed=0), nn.ReLU(), nn.Linear(5, 4, seed=1),
                          nn.ReLU(), nn.Linear(4, 3, seed=2))
    rng = np.random.default_rng(1)
    X = cr.tensor(rng.standard_normal((8, 6)).astype(np.float32))
    y = cr.tensor(rng.integers(0, 3, 8))
    with cr.record_modules(model) as rec:
        loss = F.cross_entropy(model(X), y)
    return model, rec, loss, X


def test_modules_collapse_into_boxes_and_expand():
    model, rec, loss, X = small_mlp()
    full = graphdraw.build_graph(loss, model=model)
    fig = cr.draw(loss, model=rec, names={"X": X})
    g = fig.chainrule_graph
    boxes = [n for n in g.nodes.values() if n.kind == "module"]
    assert [(n.name, n.op) for n in boxes] == [
        ("0", "Linear 6→5"), ("1", "ReLU"), ("2", "Linear 5→4"), ("3", "ReLU"),
        ("4", "Linear 4→3")]
    # the boxes stand for the 5 primitives and the 6 parameters
    assert sum(n.members for n in boxes) == 11
    assert len(g.nodes) == len(full.nodes) - 11 + 5
    # the Linear box shows its output's value and gradient ∂loss/∂output
    assert boxes[-1].value.shape == (8, 3) and boxes[-1].grad.shape == (8, 3)
    assert any("collapsed" in note for note in g.notes)
    # expand=True: every primitive, parameters named by their state_dict names
    g_all = cr.draw(loss, model=rec, expand=True).chainrule_graph
    assert len(g_all.nodes) == len(full.nodes)
    assert {n.name for n in g_all.nodes.values() if n.kind == "param"} == set(
        model.state_dict())
    # a module list opens those modules only
    g_one = cr.draw(loss, model=rec, expand=["2"]).chainrule_graph
    assert [n.name for n in g_one.nodes.values() if n.kind == "module"] == ["0", "1", "3", "4"]
    assert "2.weight" in {n.name for n in g_one.nodes.values()}


def test_record_modules_restores_module_call_on_error():
    model = nn.Sequential(nn.Linear(2, 2, seed=0))
    original = nn.Module.__call__
    with pytest.raises(RuntimeError), cr.record_modules(model):
        raise RuntimeError("inside")
    assert nn.Module.__call__ is original
    with pytest.raises(TypeError, match=r"nn\.Module"):
        with cr.record_modules("model"):
            pass


def test_a_10000_node_graph_draws_collapsed():
    x = cr.tensor(0.5, requires_grad=True)
    t = x
    for _ in range(3334):           # each step: a Mul, its constant 0.9 and a Tanh
        t = (t * 0.9).tanh()
    graph = graphdraw.build_graph(t, grads=False, values=False)
    assert len(graph.nodes) == 1 + 3 * 3334 == 10003
    fig = cr.draw(t, max_nodes=40)
    g = fig.chainrule_graph
    assert len(g.nodes) == 40
    folded = [n for n in g.nodes.values() if n.kind == "collapsed"]
    assert len(folded) == 1 and folded[0].members == 10003 - 39
    assert "9964 of 10003 nodes" in g.notes[0]


def test_backward_graph_and_gradient_of_gradient():
    x = cr.tensor(1.5, requires_grad=True)
    f = x * x * x                                  # f = x³, f' = 3x², f'' = 6x
    fig = cr.draw(f, what="backward", names={"x": x, "f": f})
    g = fig.chainrule_graph
    (root,) = g.roots
    assert g.nodes[root].name == "∂f/∂x"
    assert float(g.nodes[root].value) == pytest.approx(3 * 1.5**2)
    assert any(n.forward for n in g.nodes.values()) and any(
        not n.forward for n in g.nodes.values())
    (df,) = cr.autograd_grad(f, [x], create_graph=True)
    rows = cr.explain_backward(df, names={"x": x}, echo=False)
    assert float(rows.grads()["x"]) == pytest.approx(6 * 1.5)
    # the gradient of the gradient, drawn: its graph holds x and ∂(f')/∂x = f'' = 6x
    g2 = cr.draw(df, names={"x": x, "df": df}).chainrule_graph
    x_node = next(n for n in g2.nodes.values() if n.name == "x")
    assert float(x_node.grad) == pytest.approx(6 * 1.5)


def test_png_and_dot(tmp_path):
    f, names = seed_example()
    cr.draw(f, tmp_path / "g.png", names=names)
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
    dot = cr.to_dot(f, names=names)
    assert dot.startswith("digraph chainrule {") and dot.rstrip().endswith("}")
    assert '[label="f = q · z\\nvalue -12\\ngrad 1"' in dot


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda f, x: cr.draw(3.0), TypeError, "expected a chainrule Tensor, got float"),
        (lambda f, x: cr.draw(x), ValueError, "has no graph"),
        (lambda f, x: cr.explain_backward(x.detach() * 2), ValueError, "has no graph"),
        (lambda f, x: cr.to_dot(f, what="sideways"), ValueError, "what must be one of"),
        (lambda f, x: cr.draw(f, max_nodes=1), ValueError, "max_nodes must be an int >= 2"),
        (lambda f, x: cr.draw(f, "g.xyz"), ValueError, "cannot write 'g.xyz'"),
        (lambda f, x: cr.draw(f, names=[x]), TypeError, "names: expected a mapping"),
        (lambda f, x: cr.draw(f, model=3), TypeError, "model: expected an nn.Module"),
        (lambda f, x: cr.draw(f, expand=3), TypeError, "expand must be"),
    ],
)
def test_bad_input(call, error, match, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    f, names = seed_example()
    with pytest.raises(error, match=match):
        call(f, names["x"])


def test_expand_names_an_unknown_module():
    _, rec, loss, _ = small_mlp()
    with pytest.raises(ValueError, match="no module named '9'"):
        cr.draw(loss, model=rec, expand=["9"])


def test_parse_expression_builds_the_graph():
    f, variables = parse_expression("(x + y) * z", {"x": -2, "y": 5, "z": -4, "w": 1})
    assert f.item() == -12.0 and sorted(variables) == ["x", "y", "z"]
    g, _ = parse_expression("sigmoid(-x) ** 2 / 2 + exp(0)", {"x": 0.0})
    assert g.item() == pytest.approx(0.5**2 / 2 + 1)
    assert parse_assignments("x=-2, y=5,z=-4") == {"x": -2.0, "y": 5.0, "z": -4.0}


@pytest.mark.parametrize(
    ("expr", "match"),
    [
        ("x + w", "unknown name 'w' at column 5; variables given by --at: x, y"),
        ("x +* 2", "syntax error"),
        ("x.__class__", "attribute access 'x.__class__' is not allowed"),
        ("open(x)", "'open' is not an allowed function"),
        ("x.exp()", "'x.exp' is not an allowed function"),
        ("__import__('os')", "not an allowed function"),
        ("exp(x, y)", "takes exactly one argument"),
        ("exp", "unknown name 'exp'.*must be called"),
        ("x[0]", "Subscript"),
        ("lambda: x", "Lambda"),
        ("'a' * x", "only numbers"),
        ("x", "no graph"),
    ],
)
def test_parse_expression_rejects(expr, match):
    with pytest.raises(ValueError, match=match):
        parse_expression(expr, {"x": 1.0, "y": 2.0})


@pytest.mark.parametrize("text", ["x", "x=a", "1x=2", "x=1,x=2", "x=inf"])
def test_parse_assignments_rejects(text):
    with pytest.raises(ValueError, match="--at"):
        parse_assignments(text)


def test_graph_command(tmp_path):
    runner = CliRunner()
    out = tmp_path / "g.svg"
    res = runner.invoke(app, ["graph", "(x + y) * z", "--at", "x=-2,y=5,z=-4",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "∂f/∂x = ∂f/∂t1 · ∂t1/∂x = -4 · 1 = -4" in res.stdout
    boxes, edges = svg_boxes(out)
    assert boxes["f = t1 · z"] == ["value -12", "grad 1"] and edges == 4
    res = runner.invoke(app, ["graph", "x.__class__", "--at", "x=1"])
    assert res.exit_code == 2 and "error: expression: attribute access" in res.output
    res = runner.invoke(app, ["graph", "x + q", "--at", "x=1"])
    assert res.exit_code == 2 and "unknown name 'q'" in res.output


def test_importing_the_package_does_not_import_matplotlib():
    code = ("import sys, chainrule as cr\n"
            "x = cr.tensor(2.0, requires_grad=True)\n"
            "cr.explain_backward(x * x, echo=False); cr.to_dot(x * x)\n"
            "print('matplotlib' in sys.modules)")
    env = dict(os.environ)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True)
    assert res.stdout.strip() == "False"


def test_doctests():
    check_doctests(graphdraw, more_than=3)
