"""Read the text `printer.print_graph(full=True)` writes back into a Graph."""

from __future__ import annotations

import json
import re

import numpy as np

from .graph import Graph, Node, Splat, Value
from .types import DType, TensorType

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<type>tensor<(?:\d+x)*[a-z0-9]+>)
    | (?P<str>"(?:\\.|[^"\\])*")
    | (?P<num>-?(?:inf|nan|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?))
    | (?P<ref>%\d+)
    | (?P<sym>@[A-Za-z_]\w*)
    | (?P<id>[A-Za-z_][\w.]*)
    | (?P<arrow>->)
    | (?P<punct>[()\[\]{}<>,:=])
    )""",
    re.VERBOSE,
)


class ParseError(ValueError):
    pass


def parse_type(text: str) -> TensorType:
    m = re.fullmatch(r"tensor<((?:\d+x)*)([a-z0-9]+)>", text)
    if not m:
        raise ParseError(f"bad tensor type {text!r}")
    dims = [int(d) for d in m.group(1).split("x") if d]
    return TensorType(DType.from_short(m.group(2)), tuple(dims))


class _Lexer:
    def __init__(self, text: str):
        self.toks: list[tuple[str, str]] = []
        pos = 0
        text = text.rstrip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise ParseError(f"unexpected text at {pos}: {text[pos:pos + 20]!r}")
            self.toks.append((m.lastgroup, m.group(m.lastgroup)))
            pos = m.end()
        self.i = 0

    def peek(self) -> tuple[str, str]:
        return self.toks[self.i] if self.i < len(self.toks) else ("eof", "")

    def next(self) -> tuple[str, str]:
        t = self.peek()
        self.i += 1
        return t

    def expect(self, text: str) -> None:
        kind, val = self.next()
        if val != text:
            raise ParseError(f"expected {text!r}, got {val!r}")

    def accept(self, text: str) -> bool:
        if self.peek()[1] == text:
            self.i += 1
            return True
        return False

    def kind(self, kind: str) -> str:
        k, v = self.next()
        if k != kind:
            raise ParseError(f"expected {kind}, got {v!r}")
        return v


def _number(s: str):
    if any(c in s for c in ".eEn") or s.endswith("inf"):
        return float(s)
    return int(s)


def _attr(lx: _Lexer):
    kind, val = lx.next()
    if kind == "num":
        return _number(val)
    if kind == "str":
        return json.loads(val)
    if kind == "type":
        return parse_type(val)
    if val == "[":
        items = []
        while not lx.accept("]"):
            items.append(_attr(lx))
            lx.accept(",")
        return tuple(items)
    if val in ("true", "false"):
        return val == "true"
    if val == "none":
        return None
    if val == "splat":
        lx.expect("<")
        v = _attr(lx)
        lx.expect(">")
        return Splat(v)
    if val == "aurora.graph":
        lx.i -= 1
        return _graph(lx)
    if val == "dense":
        lx.expect("<")
        hexs = json.loads(lx.kind("str"))
        lx.expect(">")
        lx.expect(":")
        t = parse_type(lx.kind("type"))
        return np.frombuffer(bytes.fromhex(hexs[2:]), dtype=t.dtype.np.newbyteorder("<")).astype(t.dtype.np).reshape(t.shape)
    raise ParseError(f"unexpected attribute value {val!r}")


def _types(lx: _Lexer) -> list[TensorType]:
    if lx.accept("("):
        out = []
        while not lx.accept(")"):
            out.append(None if lx.accept("none") else parse_type(lx.kind("type")))
            lx.accept(",")
        return out
    return [parse_type(lx.kind("type"))]


def _loc(lx: _Lexer) -> str:
    if lx.peek()[1] != "loc":
        return ""
    lx.next()
    lx.expect("(")
    s = json.loads(lx.kind("str"))
    lx.expect(")")
    return s


def parse(text: str) -> Graph:
    lx = _Lexer(text)
    g = _graph(lx)
    if lx.peek()[0] != "eof":
        raise ParseError(f"unexpected {lx.peek()[1]!r} after the graph")
    return g


def _graph(lx: _Lexer) -> Graph:
    lx.expect("aurora.graph")
    gname = lx.kind("sym")[1:]
    env: dict[str, Value | None] = {"_": None}
    inputs = []
    lx.expect("(")
    while not lx.accept(")"):
        ref = lx.kind("ref")
        lx.expect(":")
        t = parse_type(lx.kind("type"))
        env[ref] = Value(t, _loc(lx))
        inputs.append(env[ref])
        lx.accept(",")
    lx.expect("->")
    _types(lx)
    lx.expect("{")
    nodes = []
    while lx.peek()[1] != "aurora.return":
        outs = [lx.kind("ref")]
        while lx.accept(","):
            outs.append(lx.kind("ref"))
        lx.expect("=")
        op = lx.kind("id")
        if not op.startswith("aurora."):
            raise ParseError(f"unknown dialect in {op!r}")
        lx.expect("(")
        ins = []
        while not lx.accept(")"):
            k, v = lx.next()
            if v not in env:
                raise ParseError(f"use of undefined value {v}")
            ins.append(env[v])
            lx.accept(",")
        attrs = {}
        if lx.accept("{"):
            while not lx.accept("}"):
                key = lx.kind("id")
                lx.expect("=")
                attrs[key] = _attr(lx)
                lx.accept(",")
        lx.expect(":")
        _types(lx)
        lx.expect("->")
        out_types = _types(lx)
        if len(out_types) != len(outs):
            raise ParseError(f"{len(outs)} results but {len(out_types)} types")
        vals = tuple(Value(t) for t in out_types)
        for r, v in zip(outs, vals):
            env[r] = v
        nodes.append(Node(op[len("aurora."):], tuple(ins), vals, attrs, _loc(lx)))
    lx.expect("aurora.return")
    outputs = []
    while lx.peek()[1] != ":":
        v = env[lx.kind("ref")]
        name = _loc(lx)
        if name and not v.name:
            object.__setattr__(v, "name", name)  # a value this parse made, not yet shared
        outputs.append(v)
        lx.accept(",")
    lx.expect(":")
    while lx.peek()[1] != "}":
        lx.next()
    lx.expect("}")
    return Graph(inputs, outputs, nodes, gname)

