"""The computational graph, drawn: every node's value and gradient, and the chain rule in numbers.

A Tensor produced by operations remembers the node that made it (``t._ctx``, a
:class:`~chainrule.ops.Function`) and that node its inputs (``ctx.parents``). This module
walks that graph from an output and shows it three ways:

- :func:`draw` — a matplotlib figure (SVG or PNG by the suffix of ``path``): one box per
  primitive with its equation, output shape, value and gradient ``∂t/∂node``; leaves named
  (model parameters by their ``state_dict`` name, your tensors through ``names=``);
- :func:`to_dot` — the same graph as Graphviz DOT text;
- :func:`explain_backward` — the chain rule written out node by node in reverse
  topological order::

      ∂f/∂x = Σ_k ∂f/∂z_k · ∂z_k/∂x          (sum over every use z_k of x)

Only pip packages are needed: the layout is layered with networkx (longest path from the
output, barycentre ordering inside a layer) and drawn with matplotlib; no Graphviz binary.

Large graphs stay readable. Tensors computed inside :func:`record_modules` are attributed to
the module call that produced them, and each module then collapses into one box
(``Linear 64→32``) unless expanded. A graph still larger than ``max_nodes`` keeps the
``max_nodes`` nodes nearest the output and folds the rest into one box, with a note saying
what was folded.

Example (the seed example, ``f(x, y, z) = (x + y)·z`` at ``(−2, 5, −4)``):
    >>> import chainrule as cr
    >>> x = cr.tensor(-2.0, requires_grad=True); y = cr.tensor(5.0, requires_grad=True)
    >>> z = cr.tensor(-4.0, requires_grad=True)
    >>> q = x + y; f = q * z
    >>> rows = cr.explain_backward(f, names={"x": x, "y": y, "z": z, "q": q, "f": f},
    ...                            echo=False)
    >>> print(rows)
    q = x + y = 3
    f = q · z = -12
    ∂f/∂q = z = -4
    ∂f/∂z = q = 3
    ∂f/∂x = ∂f/∂q · ∂q/∂x = -4 · 1 = -4
    ∂f/∂y = ∂f/∂q · ∂q/∂y = -4 · 1 = -4
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import re
import sys
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from .autodiff import autograd_grad, no_grad
from .tensor import Tensor

__all__ = [
    "BackwardRow",
    "Explanation",
    "ForwardRow",
    "Graph",
    "ModuleRecord",
    "Node",
    "Term",
    "build_graph",
    "draw",
    "explain_backward",
    "record_modules",
    "to_dot",
]

#: Default node limit of :func:`draw` and :func:`to_dot`.
MAX_NODES = 80
_WHATS = ("forward", "backward")


# ----------------------------------------------------------------------------- numbers


def _num(v: Any) -> str:
    """A number as short text: ``-12``, ``0.25``, ``1.235e-05``."""
    v = v.item() if hasattr(v, "item") else v
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    text = f"{float(v):.4g}"
    return "0" if text == "-0" else text


def summarise(a: Any) -> str:
    """An array as short text: scalars as numbers, up to 4 elements whole, else
    ``shape μ=mean norm=‖a‖``."""
    a = np.asarray(a)
    if a.size == 1:
        return _num(a.reshape(()))
    if a.size <= 4 and a.ndim == 1:
        return "[" + ", ".join(_num(v) for v in a) + "]"
    if a.dtype.kind != "f":  # class labels, masks: the first values
        head = ", ".join(_num(v) for v in a.ravel()[:4])
        return f"{a.shape} {a.dtype} [{head}, …]"
    with np.errstate(all="ignore"):
        mean = float(np.mean(a)) if a.size else float("nan")
        norm = float(np.linalg.norm(a.astype(np.float64).ravel()))
    return f"{a.shape} μ={_num(mean)} norm={_num(norm)}"


# ------------------------------------------------------------------- the rule of an op


@dataclass(frozen=True)
class _Rule:
    """A primitive's equation, read from the first line of its docstring
    (``z = x ⊙ y  ;  ∂L/∂x = ∂L/∂z ⊙ y,  ∂L/∂y = ∂L/∂z ⊙ x``): the forward text, the output
    and input symbols, and per input symbol the expression of ``∂L/∂input``."""

    forward: str | None
    output: str | None
    inputs: tuple[str, ...]
    grads: dict[str, str]


@functools.cache
def _rule(cls: type) -> _Rule:
    doc = (inspect.getdoc(cls) or "").strip().splitlines()
    line = doc[0] if doc else ""
    try:
        params = list(inspect.signature(cls.forward).parameters.values())[1:]
    except (TypeError, ValueError):
        params = []
    inputs = []
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            inputs.append("*")
            break
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            inputs.append(p.name)
    fwd, sep, rest = line.partition(";")
    fwd = fwd.strip()
    if not sep or "=" not in fwd:
        return _Rule(None, None, tuple(inputs), {})
    output = fwd.split("=", 1)[0].strip()
    grads: dict[str, str] = {}
    parts = re.split(r"∂\w/∂(\w+)\s*=\s*", rest)
    for sym, expr in zip(parts[1::2], parts[2::2]):
        expr = re.split(r"\s{2,}\(", expr)[0].strip().rstrip(",").strip()
        grads[sym] = expr
    fwd = "=".join(fwd.split("=")[:2]).strip()  # "z = σ(x) = 1 / (1 + e⁻ˣ)" → "z = σ(x)"
    fwd = fwd.replace("e⁻ˣ", "e^(−x)").replace("ˣ", "^x")
    return _Rule(fwd, output, tuple(inputs), grads)


def _rule_at(ctx: Any) -> _Rule:
    """The rule of ``ctx``'s primitive at this node: its docstring rule with the symbols the
    primitive fills in per node (``rule_symbols(ctx)``, e.g. which activation ``φ`` a fused
    Linear + activation ran) written in."""
    rule = _rule(type(ctx))
    fill = getattr(type(ctx), "rule_symbols", None)
    if fill is None or rule.forward is None:
        return rule
    symbols = fill(ctx)

    def put(text: str) -> str:
        for sym, value in symbols.items():
            text = text.replace(sym, value)
        return text

    return _Rule(put(rule.forward), rule.output, rule.inputs,
                 {k: put(v) for k, v in rule.grads.items()})


def _substitute(text: str, mapping: Mapping[str, str]) -> str:
    """Replace the one-word symbols of ``mapping`` in ``text`` (not inside longer words)."""
    if not mapping:
        return text
    syms = sorted(mapping, key=len, reverse=True)
    pattern = r"(?<![A-Za-z_∂])(" + "|".join(re.escape(s) for s in syms) + r")(?![A-Za-z_])"
    return re.sub(pattern, lambda m: mapping[m.group(1)], text)


def _symbols(rule: _Rule, n_parents: int) -> list[str]:
    """The docstring's symbol of each parent slot (``x₁, x₂, …`` for ``*xs``)."""
    if "*" in rule.inputs:
        return [f"x{i + 1}" for i in range(n_parents)]
    syms = list(rule.inputs[:n_parents])
    return syms + [f"arg{i}" for i in range(len(syms), n_parents)]


def _local_text(expr: str, upstream: str) -> str | None:
    """``∂z/∂x`` from the rule ``∂L/∂x = expr`` when ``expr`` is ``±∂L/∂z [⊙ or / …]``
    (an elementwise product), else None."""
    sign = ""
    if expr.startswith("−") or expr.startswith("-"):
        sign, expr = "−", expr[1:].lstrip()
    if not expr.startswith(upstream):
        return None
    tail = expr[len(upstream):].strip()
    if not tail:
        return sign + "1" if sign else "1"
    if tail.startswith("⊙"):
        return sign + tail[1:].strip()
    if tail.startswith("/"):
        return f"{sign}1 {tail}"
    return None


# ----------------------------------------------------------------------------- the graph


@dataclass
class Node:
    """One box of the drawn graph.

    Attributes:
        key: identity of the node (``id`` of its Tensor; negative for constants that are
            not Tensors, and for boxes standing for several nodes).
        kind: ``"op"`` (a primitive's output), ``"leaf"`` (a tensor you made),
            ``"param"`` (a model parameter), ``"const"`` (an input that needs no gradient),
            ``"module"`` (a collapsed module call) or ``"collapsed"`` (nodes beyond the limit).
        name: its symbol: your name, the ``state_dict`` name, or a generated ``t1, t2, …``.
        op: the primitive's class name (``"Mul"``), or the module's title.
        shape: the output shape.
        value: the output's array (None when not shown).
        grad: ``∂root/∂node`` (None when not shown or not defined).
        equation: the forward equation in the nodes' symbols (``f = q ⊙ z``) when known;
            for a module box, its output's name and the module (``t4 = [2] Linear 4→1``).
        members: how many graph nodes the box stands for.
        forward: for ``what="backward"``, whether the node belongs to the forward pass.
    """

    key: int
    kind: str
    name: str
    op: str | None = None
    shape: tuple[int, ...] = ()
    value: Any = None
    grad: Any = None
    equation: str | None = None
    members: int = 1
    forward: bool = False

    def label(self, values: bool = True, grads: bool = True) -> list[str]:
        """The lines written in the node's box."""
        if self.kind == "op":
            head = self.equation or f"{self.name} = {self.op}"
        elif self.kind == "module":
            head = self.equation or f"[{self.name}] {self.op}"
        elif self.kind == "collapsed":
            head = str(self.op)
        else:
            head = self.name
        lines = [head]
        if self.shape and self.value is None:
            lines.append(f"shape {self.shape}")
        if values and self.value is not None:
            lines.append(f"value {summarise(self.value)}")
        if grads and self.grad is not None:
            lines.append(f"grad {summarise(self.grad)}")
        return lines


@dataclass
class Graph:
    """The graph that produced one or more output tensors.

    Attributes:
        nodes: ``key → Node`` in forward topological order (inputs before their users).
        edges: ``(input key, user key)``, one per input slot of every primitive (so
            ``x * x`` gives two edges); after collapsing, one per connected pair.
        roots: keys of the outputs.
        notes: what was collapsed, if anything.
    """

    nodes: dict[int, Node]
    edges: list[tuple[int, int]]
    roots: list[int]
    notes: list[str] = field(default_factory=list)
    #: for each op node key, its Function (the node of the engine's graph)
    ctxs: dict[int, Any] = field(default_factory=dict, repr=False)
    #: for each node key, the Tensor it stands for (None for non-Tensor constants)
    tensors: dict[int, Any] = field(default_factory=dict, repr=False)


def _check_tensor(t: Any, where: str) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{where}: expected a chainrule Tensor, got {type(t).__name__}")


def _check_graph(t: Any, where: str) -> None:
    _check_tensor(t, where)
    if t._ctx is None:
        raise ValueError(
            f"{where}: the tensor has no graph (it is a leaf, or was computed without an input "
            "that requires grad, or under no_grad); compute it from tensors made with "
            "requires_grad=True"
        )


def _name_map(names: Any, model: Any) -> dict[int, str]:
    """``id(tensor) → name`` from ``names`` (a mapping ``name → Tensor``, e.g. ``locals()``)
    and the model's ``named_parameters()``."""
    out: dict[int, str] = {}
    if model is not None:
        module = model.model if isinstance(model, ModuleRecord) else model
        if not hasattr(module, "named_parameters"):
            raise TypeError(
                f"model: expected an nn.Module or a ModuleRecord, got {type(model).__name__}"
            )
        for n, p in module.named_parameters():
            out[id(p)] = n
    if names is not None:
        if not isinstance(names, Mapping):
            raise TypeError(
                f"names: expected a mapping from names to Tensors, got {type(names).__name__}"
            )
        for n, v in names.items():
            if isinstance(v, Tensor) and isinstance(n, str) and not n.startswith("_"):
                out[id(v)] = n
    return out


def _walk(roots: Sequence[Tensor]) -> list[Tensor]:
    """Every Tensor reachable from ``roots`` through ``_ctx.parents``, inputs before users
    (iterative depth-first search, inputs in argument order)."""
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(r, False) for r in reversed(roots)]
    while stack:
        t, done = stack.pop()
        if done:
            order.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.append((t, True))
        if t._ctx is not None:
            for p in reversed(t._ctx.parents):
                if isinstance(p, Tensor) and id(p) not in seen:
                    stack.append((p, False))
    return order


def build_graph(
    roots: Tensor | Sequence[Tensor],
    *,
    names: Mapping[str, Any] | None = None,
    model: Any = None,
    values: bool = True,
    grads: bool = True,
    root_names: Sequence[str] | None = None,
    prefix: str = "t",
) -> Graph:
    """The graph that produced ``roots``, with names, values and gradients on its nodes.

    Gradients are ``∂root/∂node`` for a single root (``∂Σroot/∂node`` when it is not a
    scalar), computed by one reverse pass of the engine (:func:`~chainrule.autograd_grad`)
    over every node, so they are available before or after ``backward()`` and no ``.grad``
    is touched.

    Args:
        roots: an output Tensor, or several.
        names: optional mapping ``name → Tensor`` (``locals()`` works; names starting with
            ``_`` and non-Tensors are skipped).
        model: an ``nn.Module`` (or :class:`ModuleRecord`) whose parameters are named by
            their ``state_dict`` names.
        values / grads: fill ``Node.value`` / ``Node.grad``.
        root_names: names of the roots (override ``names``).
        prefix: unnamed tensors are called ``{prefix}1, {prefix}2, …``.

    Raises:
        TypeError: a root is not a Tensor; ValueError: the only root has no graph.
    """
    roots = [roots] if isinstance(roots, Tensor) else list(roots)
    for r in roots:
        _check_tensor(r, "build_graph")
    named = _name_map(names, model)
    params = _name_map(None, model)
    if root_names is not None:
        given: dict[int, str] = {}
        for r, n in zip(roots, root_names):  # one tensor may be several roots
            given[id(r)] = f"{given[id(r)]} = {n}" if id(r) in given else n
        named.update(given)
    order = _walk(roots)
    g_of: dict[int, Any] = {}
    if grads and len(roots) == 1 and roots[0].requires_grad:
        wanted = [t for t in order if t.requires_grad]
        seed = np.ones_like(roots[0].data)
        found = autograd_grad(roots[0], wanted, Tensor._wrap(seed), allow_unused=True)
        g_of = {id(t): g.data for t, g in zip(wanted, found) if g is not None}
    graph = Graph({}, [], [id(r) for r in roots])
    counter = 0
    const_key = -1
    for t in order:
        key = id(t)
        name = named.get(key)
        if name is None:
            counter += 1
            name = f"{prefix}{counter}"
        ctx = t._ctx
        if ctx is None:
            kind = "param" if key in params else ("leaf" if t.requires_grad else "const")
            if kind == "const" and key not in named and t.data.size == 1:
                name = _num(t.data.reshape(()))
            node = Node(key, kind, name, shape=t.shape)
        else:
            node = Node(key, "op", name, op=type(ctx).__name__, shape=t.shape)
            graph.ctxs[key] = ctx
            syms = []
            for p in ctx.parents:
                if isinstance(p, Tensor):
                    pk = id(p)
                else:
                    pk, const_key = const_key, const_key - 1
                    arr = np.asarray(p)
                    label = _num(arr.reshape(())) if arr.size == 1 else f"const {arr.shape}"
                    graph.nodes[pk] = Node(pk, "const", label, shape=arr.shape,
                                           value=arr if values else None)
                    graph.tensors[pk] = None
                graph.edges.append((pk, key))
                syms.append(graph.nodes[pk].name)
            node.equation = _equation(ctx, name, syms, t.data.size == 1)
        if values:
            node.value = t.data
        node.grad = g_of.get(key)
        graph.nodes[key] = node
        graph.tensors[key] = t
    return graph


def _equation(ctx: Any, name: str, parent_names: list[str], scalar: bool) -> str | None:
    """``f = q ⊙ z``: the op's forward text with the nodes' names (``·`` for scalars)."""
    rule = _rule_at(ctx)
    if rule.forward is None:
        return None
    syms = _symbols(rule, len(parent_names))
    text = _substitute(rule.forward, {rule.output: name, **dict(zip(syms, parent_names))})
    return text.replace("⊙", "·") if scalar else text


# ------------------------------------------------------------------------ module records


class ModuleRecord:
    """Which module call produced which tensors: the result of :func:`record_modules`.

    Attributes:
        model: the recorded model.
        calls: ``(qualified name, module, member keys)`` per module call, in call order,
            where the members are the keys (``id``) of the tensors computed inside the call
            (the graph between its inputs and its outputs) and of its own parameters.
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self.calls: list[tuple[str, Any, set[int]]] = []
        self._pinned: list[Any] = []  # keeps recorded tensors alive so their ids stay theirs

    def _add(self, name: str, module: Any, args: Any, out: Any) -> None:
        inputs = {id(a) for a in _tensors_in(args)}
        members: set[int] = set()
        stack = list(_tensors_in(out))
        while stack:
            t = stack.pop()
            if id(t) in inputs or id(t) in members or t._ctx is None:
                continue
            members.add(id(t))
            self._pinned.append(t)
            stack.extend(p for p in t._ctx.parents if isinstance(p, Tensor))
        for p in module.parameters():
            members.add(id(p))
        self.calls.append((name, module, members))


def _tensors_in(obj: Any) -> Iterator[Tensor]:
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _tensors_in(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors_in(o)


@contextlib.contextmanager
def record_modules(model: Any) -> Iterator[ModuleRecord]:
    """Record, while the block runs, which of ``model``'s modules computed which tensors.

    Every call of ``model`` or of one of its sub-modules is attributed the tensors between
    the call's input tensors and its outputs. Pass the record as ``model=`` to :func:`draw`
    or :func:`to_dot` and each module call collapses into one box. It works by wrapping
    ``Module.__call__`` for the duration of the block (restored on exit, also on error).

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> model = nn.Sequential(nn.Linear(3, 4, seed=0), nn.ReLU(), nn.Linear(4, 1, seed=1))
        >>> with cr.record_modules(model) as rec:
        ...     loss = model(cr.tensor([[1.0, 2.0, 3.0]])).sum()
        >>> [name for name, _, _ in rec.calls]
        ['0', '1', '2', '']
    """
    from .nn.module import Module

    if not isinstance(model, Module):
        raise TypeError(f"record_modules: expected an nn.Module, got {type(model).__name__}")
    qualified = {id(m): n for n, m in model.named_modules()}
    record = ModuleRecord(model)
    original = Module.__call__

    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = original(self, *args, **kwargs)
        name = qualified.get(id(self))
        if name is not None:
            record._add(name, self, (args, kwargs), out)
        return out

    Module.__call__ = call
    try:
        yield record
    finally:
        Module.__call__ = original


def _module_title(module: Any) -> str:
    title = type(module).__name__
    n_in = getattr(module, "in_features", None) or getattr(module, "in_channels", None)
    n_out = getattr(module, "out_features", None) or getattr(module, "out_channels", None)
    if n_in is not None and n_out is not None:
        title += f" {n_in}→{n_out}"
    return title


def _collapse_modules(graph: Graph, record: ModuleRecord, expand: Any) -> None:
    """Fold each module call that is not expanded (and whose ancestors all are) into a box."""
    if expand is True:
        return
    expanded = {""} | ({str(e) for e in expand} if expand else set())
    known = {n for n, _, _ in record.calls} | {n for n, _ in record.model.named_modules()}
    unknown = expanded - known
    if unknown:
        raise ValueError(
            f"expand: no module named {sorted(unknown)[0]!r}; modules: {sorted(known - {''})}"
        )

    def boxed(name: str) -> bool:
        if name in expanded:
            return False
        parts = name.split(".")
        return all(".".join(parts[:i]) in expanded for i in range(len(parts)))

    box_of: dict[int, Node] = {}
    boxes: list[tuple[Node, list[int]]] = []
    next_key = min([0, *graph.nodes]) - 1
    for name, module, members in record.calls:
        if not boxed(name):
            continue
        inside = [k for k in graph.nodes if k in members and k not in box_of]
        ops = [k for k in inside if graph.nodes[k].kind == "op"]
        if not ops:
            continue
        out_key = next(k for k in reversed(inside) if graph.nodes[k].kind == "op")
        out = graph.nodes[out_key]
        title = _module_title(module)
        box = Node(next_key, "module", name, op=title, shape=out.shape, value=out.value,
                   grad=out.grad, equation=f"{out.name} = [{name}] {title}",
                   members=len(inside))
        next_key -= 1
        for k in inside:
            box_of[k] = box
        boxes.append((box, inside))
    if boxes:
        _fold(graph, box_of)
        graph.notes.append(
            f"{len(boxes)} module call(s) collapsed into boxes "
            "(expand=True or expand=[names] to open them)"
        )


def _fold(graph: Graph, box_of: Mapping[int, Node]) -> None:
    """Replace the nodes of ``box_of`` by their boxes (placed where their last member was),
    keeping one edge per connected pair of distinct nodes."""
    last: dict[int, int] = {}
    for k in graph.nodes:
        if k in box_of:
            last[box_of[k].key] = k
    nodes: dict[int, Node] = {}
    for k, n in graph.nodes.items():
        box = box_of.get(k)
        if box is None:
            nodes[k] = n
        elif last[box.key] == k:
            nodes[box.key] = box
    edges: list[tuple[int, int]] = []
    seen: set[tuple[int, int]] = set()
    for a, b in graph.edges:
        a2 = box_of[a].key if a in box_of else a
        b2 = box_of[b].key if b in box_of else b
        if a2 != b2 and (a2, b2) not in seen:
            seen.add((a2, b2))
            edges.append((a2, b2))
    graph.roots = [box_of[r].key if r in box_of else r for r in graph.roots]
    graph.nodes, graph.edges = _toposorted(nodes, edges), edges


def _toposorted(nodes: dict[int, Node], edges: list[tuple[int, int]]) -> dict[int, Node]:
    """``nodes`` reordered so that every edge goes forward (Kahn's algorithm, stable)."""
    indegree = dict.fromkeys(nodes, 0)
    users: dict[int, list[int]] = {}
    for a, b in edges:
        indegree[b] += 1
        users.setdefault(a, []).append(b)
    ready = deque(k for k, d in indegree.items() if d == 0)
    order: dict[int, Node] = {}
    while ready:
        k = ready.popleft()
        order[k] = nodes[k]
        for u in users.get(k, ()):
            indegree[u] -= 1
            if indegree[u] == 0:
                ready.append(u)
    if len(order) != len(nodes):  # pragma: no cover - a fold never closes a cycle
        raise RuntimeError("collapsing the graph produced a cycle")
    return order


def _collapse_beyond(graph: Graph, max_nodes: int) -> None:
    """Keep the last ``max_nodes − 1`` nodes in topological order (those nearest the
    outputs: every user of a kept node is kept, so the fold closes no cycle); fold the
    rest into one box."""
    if len(graph.nodes) <= max_nodes:
        return
    order = list(graph.nodes)
    keep = set(order[len(order) - (max_nodes - 1):])
    folded = order[: len(order) - (max_nodes - 1)]
    counts: dict[str, int] = {}
    for k in folded:
        n = graph.nodes[k]
        label = n.op if n.kind == "op" else n.kind
        counts[label] = counts.get(label, 0) + 1
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:4]
    what = ", ".join(f"{c} {op}" for op, c in top) + (", …" if len(counts) > 4 else "")
    box = Node(min([0, *graph.nodes]) - 1, "collapsed", "collapsed",
               op=f"{len(folded)} earlier nodes\n({what})", members=len(folded))
    _fold(graph, {k: box for k in folded})
    graph.notes.append(
        f"{len(folded)} of {len(folded) + len(keep)} nodes (those farthest from the output) "
        f"collapsed into one box to stay within max_nodes={max_nodes}"
    )


def _prepare(
    t: Any, what: str, values: bool, grads: bool, names: Any, model: Any, expand: Any,
    max_nodes: int, where: str,
) -> Graph:
    """Validate the arguments of :func:`draw` / :func:`to_dot` and build the shown graph."""
    _check_graph(t, where)
    if what not in _WHATS:
        raise ValueError(f"{where}: what must be one of {_WHATS}, got {what!r}")
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 2:
        raise ValueError(f"{where}: max_nodes must be an int >= 2, got {max_nodes!r}")
    if not (expand is True or expand is False or expand is None
            or (isinstance(expand, (list, tuple, set)) and all(isinstance(e, str)
                                                                for e in expand))):
        raise TypeError(f"{where}: expand must be True/False or a list of module names, "
                        f"got {expand!r}")
    if what == "forward":
        graph = build_graph(t, names=names, model=model, values=values, grads=grads)
    else:
        graph = _backward_graph(t, names, model, values)
    if isinstance(model, ModuleRecord):
        _collapse_modules(graph, model, expand)
    _collapse_beyond(graph, max_nodes)
    return graph


def _backward_graph(t: Tensor, names: Any, model: Any, values: bool) -> Graph:
    """The graph the backward pass builds (``create_graph=True``): its outputs are
    ``∂t/∂leaf`` for every leaf that requires grad; forward nodes are marked."""
    forward = _walk([t])
    leaves = [x for x in forward if x._ctx is None and x.requires_grad]
    named = _name_map(names, model)
    counter = 0
    leaf_names = []
    for x in forward:
        if named.get(id(x)) is None:
            counter += 1
            named[id(x)] = f"t{counter}"
        if x._ctx is None and x.requires_grad:
            leaf_names.append(named[id(x)])
    tname = named[id(t)]
    seed = Tensor._wrap(np.ones_like(t.data))
    gs = autograd_grad(t, leaves, seed, create_graph=True)
    names_all = {n: x for x in forward for n in [named[id(x)]]}
    names_all[f"∂{tname}/∂{tname}"] = seed
    graph = build_graph(gs, names=names_all, model=model, values=values, grads=False,
                        root_names=[f"∂{tname}/∂{n}" for n in leaf_names], prefix="b")
    in_forward = {id(x) for x in forward}
    for k, n in graph.nodes.items():
        n.forward = k in in_forward
    return graph


# -------------------------------------------------------------------------------- layout


def _layout(graph: Graph) -> dict[int, tuple[int, float]]:
    """``key → (layer, position)``: layer = longest path to an output (outputs at 0),
    positions ordered by the barycentre of each node's users, laid out by networkx's
    multipartite layout."""
    import networkx as nx

    users: dict[int, list[int]] = {}
    for a, b in graph.edges:
        users.setdefault(a, []).append(b)
    layer: dict[int, int] = {}
    for k in reversed(graph.nodes):
        us = users.get(k)
        layer[k] = 1 + max(layer[u] for u in us) if us else 0
    by_layer: dict[int, list[int]] = {}
    for k in graph.nodes:
        by_layer.setdefault(layer[k], []).append(k)
    slot: dict[int, float] = {}
    G = nx.DiGraph()
    for r in sorted(by_layer):
        members = by_layer[r]
        if r > 0:
            members.sort(key=lambda k: sum(slot[u] for u in users[k]) / len(users[k]))
        for i, k in enumerate(members):
            slot[k] = i - (len(members) - 1) / 2
            G.add_node(k, layer=-r)
    pos = nx.multipartite_layout(G, subset_key="layer", scale=1.0)
    if len(by_layer) == 1:
        return {k: (0, slot[k]) for k in pos}
    # one uniform scaling of (layer, slot): the distance between adjacent layers is one unit
    xs = sorted({float(p[0]) for p in pos.values()})
    unit = xs[1] - xs[0]
    return {k: (layer[k], float(p[1]) / unit) for k, p in pos.items()}


_STYLE = {  # face colour, edge colour
    "op": ("#fff8e1", "#b08800"),
    "leaf": ("#e3f2fd", "#1565c0"),
    "param": ("#e8f5e9", "#2e7d32"),
    "const": ("#f5f5f5", "#9e9e9e"),
    "module": ("#fff3e0", "#e65100"),
    "collapsed": ("#fce4ec", "#ad1457"),
}


def _render(graph: Graph, values: bool, grads: bool, title: str | None) -> Any:
    """A matplotlib Figure of the laid-out graph (one text box per node, arrows between)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    place = _layout(graph)
    n_layers = 1 + max(r for r, _ in place.values())
    heights: dict[int, int] = {}
    for r, _ in place.values():
        heights[r] = heights.get(r, 0) + 1
    rows = max(heights.values())
    # a deep, narrow graph (a network's chain of layers) runs top to bottom, so that it
    # fits a page; a shallow one left to right
    vertical = n_layers > 4 and n_layers > rows
    labels = {k: "\n".join(n.label(values, grads)) for k, n in graph.nodes.items()}
    longest = max(len(line) for text in labels.values() for line in text.splitlines())
    # a column fits the longest line (8 pt: about 0.075 inch a character) and a gap
    col_w, row_h, margin = max(1.4, 0.075 * longest + 0.6), 0.95, 0.4
    head = 0.28 * (len(graph.notes) + bool(title))
    if vertical:
        width = max(4.0, rows * col_w + 2 * margin)
        height = n_layers * row_h + 2 * margin + head
    else:
        width = max(4.0, n_layers * col_w + 2 * margin)
        height = max(2.0, rows * row_h + 2 * margin + head)
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    xy: dict[int, tuple[float, float]] = {}
    boxes: dict[int, Any] = {}
    for i, (k, node) in enumerate(graph.nodes.items()):
        r, s = place[k]
        if vertical:  # output at the bottom, inputs flowing down into it
            x, y = width / 2 + s * col_w, margin + row_h / 2 + r * row_h
        else:  # output on the right
            x, y = width - margin - col_w / 2 - r * col_w, margin + rows * row_h / 2 - s * row_h
        xy[k] = (x, y)
        face, edge = _STYLE[node.kind]
        if node.forward:
            face, edge = "#eeeeee", "#9e9e9e"
        text = ax.text(x, y, labels[k], ha="center", va="center",
                       fontsize=8, zorder=3, gid=f"node-{i}", linespacing=1.25,
                       bbox=dict(boxstyle="round,pad=0.35", fc=face, ec=edge, lw=1.0))
        boxes[k] = text
    for j, (a, b) in enumerate(graph.edges):
        # above the boxes: a box is drawn (and placed) first, then the arrow clipped to it
        arrow = ax.annotate("", xy=xy[b], xytext=xy[a], zorder=4,
                    arrowprops=dict(arrowstyle="-|>", color="#555555", lw=0.8,
                                    mutation_scale=11, shrinkA=0, shrinkB=2,
                                    patchA=boxes[a].get_bbox_patch(),
                                    patchB=boxes[b].get_bbox_patch()))
        arrow.arrow_patch.set_gid(f"edge-{j}")
    top = height - 0.3
    for line in ([title] if title else []) + graph.notes:
        ax.text(0.2, top, line, ha="left", va="top", fontsize=8, color="#333333")
        top -= 0.28
    return fig


def draw(
    t: Tensor,
    path: str | Path | None = None,
    *,
    what: str = "forward",
    values: bool = True,
    grads: bool = True,
    names: Mapping[str, Any] | None = None,
    model: Any = None,
    expand: bool | Sequence[str] = False,
    max_nodes: int = MAX_NODES,
    title: str | None = None,
) -> Any:
    """Draw the computational graph that produced ``t``, with values and gradients.

    One box per primitive, holding its equation in the nodes' names (``f = q · z``), its
    value and its gradient ``∂t/∂node`` (``∂Σt/∂node`` when ``t`` is not a scalar):
    scalars as numbers, small vectors whole, larger arrays as ``shape μ=mean norm=‖a‖``.
    Inputs flow left to right into the output.

    Args:
        t: the output Tensor (for example a loss).
        path: where to write the figure; ``.svg`` or ``.png`` (any suffix matplotlib
            knows). SVG text stays text (searchable).
        what: ``"forward"`` — the graph of ``t``; ``"backward"`` — the graph the backward
            pass builds with ``create_graph=True`` (outputs ``∂t/∂x`` for every leaf ``x``;
            the forward nodes it reuses are greyed). To draw a gradient of a gradient,
            draw the tensor returned by ``autograd_grad(..., create_graph=True)``.
        values: write each node's value.
        grads: write each node's gradient, computed by one reverse pass of the engine (no
            ``.grad`` is touched; it works before or after ``backward()``).
        names: mapping ``name → Tensor`` naming your tensors (``locals()`` works);
            unnamed ones are ``t1, t2, …``.
        model: an ``nn.Module``, whose parameters are named by their ``state_dict`` names,
            or a :class:`ModuleRecord` from :func:`record_modules`, whose module calls also
            collapse into one box each (``Linear 64→32``).
        expand: with a record: ``True`` shows every primitive; a list of module names
            (``["0", "2"]``) opens those modules only.
        max_nodes: beyond this many boxes the nodes farthest from the output fold into one
            box, and a note at the top says what was folded.
        title: optional title line.

    Returns:
        The matplotlib ``Figure``; its ``chainrule_graph`` attribute is the drawn
        :class:`Graph` (nodes, edges, notes on what was collapsed).

    Raises:
        TypeError: ``t`` is not a Tensor, or a bad ``names``/``model``/``expand``.
        ValueError: ``t`` has no graph, ``what`` or ``max_nodes`` is invalid, an unknown
            module name in ``expand``, or a ``path`` suffix matplotlib cannot write.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor(2.0, requires_grad=True)
        >>> fig = cr.draw((x * x).exp(), names={"x": x})
        >>> len(fig.axes)
        1
    """
    graph = _prepare(t, what, values, grads, names, model, expand, max_nodes, "draw")
    fig = _render(graph, values, grads and what == "forward", title)
    if path is not None:
        _save(fig, Path(path))
    fig.chainrule_graph = graph
    return fig


def _save(fig: Any, path: Path) -> None:
    import matplotlib

    suffix = path.suffix.lower().lstrip(".")
    formats = fig.canvas.get_supported_filetypes()
    if suffix not in formats:
        raise ValueError(
            f"draw: cannot write {path.name!r}: the suffix must be one of "
            f"{', '.join('.' + s for s in sorted(formats))}"
        )
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "chainrule"}):
        fig.savefig(path, dpi=110)


def to_dot(
    t: Tensor,
    *,
    what: str = "forward",
    values: bool = True,
    grads: bool = True,
    names: Mapping[str, Any] | None = None,
    model: Any = None,
    expand: bool | Sequence[str] = False,
    max_nodes: int = 10**9,
) -> str:
    """The graph of :func:`draw` as Graphviz DOT text (render it with ``dot -Tsvg``).

    Takes the arguments of :func:`draw` (no node limit by default); nodes are ``n0, n1, …``
    in forward topological order, labelled with the lines of the drawn boxes.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor(3.0, requires_grad=True)
        >>> print(cr.to_dot(x * 2, names={"x": x}, values=False, grads=False))
        digraph chainrule {
          rankdir=LR;
          node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];
          n0 [label="x", fillcolor="#e3f2fd"];
          n1 [label="2", fillcolor="#f5f5f5"];
          n2 [label="t1 = x · 2", fillcolor="#fff8e1"];
          n0 -> n2;
          n1 -> n2;
        }
    """
    graph = _prepare(t, what, values, grads, names, model, expand, max_nodes, "to_dot")
    ids = {k: f"n{i}" for i, k in enumerate(graph.nodes)}
    lines = [
        "digraph chainrule {",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
    ]
    lines += [f"  // {note}" for note in graph.notes]
    for k, node in graph.nodes.items():
        label = "\\n".join(_dot_escape(s) for s in node.label(values, grads))
        fill = "#eeeeee" if node.forward else _STYLE[node.kind][0]
        lines.append(f'  {ids[k]} [label="{label}", fillcolor="{fill}"];')
    lines += [f"  {ids[a]} -> {ids[b]};" for a, b in graph.edges]
    lines.append("}")
    return "\n".join(lines)


def _dot_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


# ------------------------------------------------------------------------- explanation


@dataclass
class ForwardRow:
    """One primitive of the forward pass: ``name = equation = value``."""

    name: str
    op: str
    equation: str | None
    value: Any

    def __str__(self) -> str:
        eq = self.equation or f"{self.name} = {self.op}(…)"
        return f"{eq} = {summarise(self.value)}"


@dataclass
class Term:
    """One use ``c`` of a node ``x``: the product ``∂L/∂c · ∂c/∂x`` it contributes.

    Attributes:
        user: the name of ``c``; op: its primitive.
        local: ``∂c/∂x`` as text in the nodes' names (None when not elementwise).
        local_value: ``∂c/∂x`` as a number (scalar ``c`` and ``x`` only, else None).
        rule: the primitive's backward rule for this input, in the nodes' names.
        upstream: ``∂L/∂c``; contribution: the product (the primitive's own backward).
    """

    user: str
    op: str
    local: str | None
    local_value: Any
    rule: str | None
    upstream: Any
    contribution: Any


@dataclass
class BackwardRow:
    """The gradient of one node: ``∂L/∂x = Σ_k ∂L/∂c_k · ∂c_k/∂x`` with the numbers."""

    root: str
    name: str
    terms: list[Term]
    grad: Any
    root_user: bool = False

    def __str__(self) -> str:
        R, x = self.root, self.name
        lhs = f"∂{R}/∂{x}"
        total = summarise(self.grad)
        scalar = all(t.local_value is not None for t in self.terms)
        if scalar and len(self.terms) == 1 and self.terms[0].user == R:
            local = self.terms[0].local
            return f"{lhs} = {local} = {total}" if local not in (None, total) else \
                f"{lhs} = {total}"
        if scalar:
            symbolic = " + ".join(f"∂{R}/∂{t.user} · ∂{t.user}/∂{x}" for t in self.terms)
            numbers = " + ".join(f"{summarise(t.upstream)} · {summarise(t.local_value)}"
                                 for t in self.terms)
            return f"{lhs} = {symbolic} = {numbers} = {total}"
        rules = " + ".join(t.rule or f"{t.op}.backward(∂{R}/∂{t.user})" for t in self.terms)
        return f"{lhs} = {rules} = {total}"


class Explanation(list):
    """The rows of :func:`explain_backward`: the :class:`ForwardRow` s (forward order)
    then the :class:`BackwardRow` s (reverse topological order); ``str()`` is the text."""

    @property
    def forward(self) -> list[ForwardRow]:
        """The forward rows."""
        return [r for r in self if isinstance(r, ForwardRow)]

    @property
    def backward(self) -> list[BackwardRow]:
        """The backward rows."""
        return [r for r in self if isinstance(r, BackwardRow)]

    def grads(self) -> dict[str, Any]:
        """``name → ∂L/∂name`` for every row."""
        return {r.name: r.grad for r in self.backward}

    def lines(self) -> list[str]:
        """One line per row."""
        return [str(r) for r in self]

    def __str__(self) -> str:
        return "\n".join(self.lines())


def explain_backward(
    t: Tensor,
    *,
    names: Mapping[str, Any] | None = None,
    model: Any = None,
    echo: bool = True,
    file: TextIO | None = None,
) -> Explanation:
    """Print the chain rule for ``t``, node by node, with the numbers.

    First the forward pass (``q = x + y = 3``), then, for every tensor that requires grad,
    in reverse topological order (a node comes after all its users), its gradient as the
    sum over its users ``c_k`` of upstream gradient times local derivative::

        ∂L/∂x = Σ_k ∂L/∂c_k · ∂c_k/∂x

    Each product is computed by the primitive's own ``backward`` applied to ``∂L/∂c_k``,
    and the sums are formed here, so the gradients equal those of ``t.backward()``. For
    scalars the local derivative is written too (``∂f/∂x = ∂f/∂q · ∂q/∂x = -4 · 1 = -4``);
    for arrays the primitive's backward rule is written in the nodes' names. A non-scalar
    ``t`` is treated as ``L = Σ t``.

    Args:
        t: the output Tensor.
        names: mapping ``name → Tensor`` (``locals()`` works); the output is named ``L``
            unless named here; other unnamed tensors ``t1, t2, …``.
        model: an ``nn.Module`` naming its parameters.
        echo: print the rows (to ``file``, by default standard output).
        file: where to print.

    Returns:
        An :class:`Explanation`: the rows as data (a list; ``.grads()`` maps names to
        gradients).

    Raises:
        TypeError: ``t`` is not a Tensor; ValueError: ``t`` has no graph.
    """
    _check_graph(t, "explain_backward")
    named = _name_map(names, model)
    graph = build_graph(t, names=names, model=model, grads=False,
                        root_names=[named.get(id(t), "L")])
    rows = Explanation()
    for node in graph.nodes.values():
        if node.kind == "op":
            rows.append(ForwardRow(node.name, node.op or "", node.equation, node.value))
    root = graph.roots[0]
    R = graph.nodes[root].name
    users: dict[int, list[tuple[int, int]]] = {}  # key → [(user key, input slot)]
    for k, ctx in graph.ctxs.items():
        for i, p in enumerate(ctx.parents):
            if isinstance(p, Tensor) and p.requires_grad:
                users.setdefault(id(p), []).append((k, i))
    pending = {k: len(v) for k, v in users.items()}
    grad_of: dict[int, Any] = {root: np.ones_like(t.data)}
    vjps: dict[int, tuple[Any, ...]] = {}
    queue = deque([root])
    with no_grad():
        while queue:
            k = queue.popleft()
            if k != root:
                rows.append(_backward_row(graph, k, users[k], grad_of, vjps, R))
                grad_of[k] = rows[-1].grad
            ctx = graph.ctxs.get(k)
            if ctx is None:
                continue
            for p in ctx.parents:
                if isinstance(p, Tensor) and p.requires_grad:
                    pending[id(p)] -= 1
                    if pending[id(p)] == 0:
                        queue.append(id(p))
    if echo:
        print(rows, file=sys.stdout if file is None else file)
    return rows


def _vjp(ctx: Any, out: Tensor, g: Any) -> tuple[Any, ...]:
    """The primitive's own backward at ``g`` (first order: arrays in, arrays out)."""
    ctx.out = out.data
    try:
        gs = type(ctx).backward(ctx, g)
    finally:
        ctx.out = None
    return gs if isinstance(gs, tuple) else (gs,)


def _backward_row(
    graph: Graph, k: int, uses: list[tuple[int, int]], grad_of: dict[int, Any],
    vjps: dict[int, tuple[Any, ...]], R: str,
) -> BackwardRow:
    node = graph.nodes[k]
    terms = []
    total = None
    for u, i in uses:
        ctx = graph.ctxs[u]
        user = graph.nodes[u]
        if u not in vjps:
            vjps[u] = _vjp(ctx, graph.tensors[u], grad_of[u])
        contribution = np.asarray(vjps[u][i])
        total = contribution if total is None else total + contribution
        rule = _rule_at(ctx)
        syms = _symbols(rule, len(ctx.parents))
        mapping = {rule.output or "z": user.name}
        mapping.update({s: _operand_name(graph, p) for s, p in zip(syms, ctx.parents)})
        expr = rule.grads.get(syms[i])
        local = local_value = rule_text = None
        if expr is not None:
            up = f"∂L/∂{rule.output}"
            loc = _local_text(expr, up)
            local = None if loc is None else _substitute(loc, mapping)
            rule_text = _substitute(expr.replace(up, f"∂{R}/∂{user.name}"), mapping)
            rule_text = rule_text.replace(f"∂{R}/∂{R}", "1")
        if user.value.size == 1 and node.value.size == 1:
            local_value = np.asarray(_vjp(ctx, graph.tensors[u], np.ones_like(user.value))[i])
        terms.append(Term(user.name, user.op or "", local, local_value, rule_text,
                          grad_of[u], contribution))
    return BackwardRow(R, node.name, terms, total)


def _operand_name(graph: Graph, p: Any) -> str:
    """The name of an input: its node's name, or a constant's value."""
    if isinstance(p, Tensor):
        return graph.nodes[id(p)].name
    arr = np.asarray(p)
    return _num(arr.reshape(())) if arr.size == 1 else f"const {arr.shape}"
