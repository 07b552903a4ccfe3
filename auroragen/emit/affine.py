"""Index arithmetic for the kernel templates: integer C expressions linear in loop variables, printed as
one would write them by hand. A term of coefficient 1 has no `* 1`, a zero term or constant is left out,
and a loop that runs once is no loop: its variable is its one value, folded into every expression.

    n, c = Loop("n", 1), Loop("c", 64)            # plans make the loops; templates print them
    n.head  -> ""                                  c.head -> "for (long c = 0; c < 64; ++c) {"
    (n * 64 + c) * 49 + Ix.var("ih")              -> "c * 49 + ih"
"""

from __future__ import annotations


class Ix:
    """sum(coefficient * name) + constant, over C variables (names) and compile-time integers."""

    __slots__ = ("terms", "const")

    def __init__(self, terms: dict[str, int] | None = None, const: int = 0):
        self.terms = {k: v for k, v in (terms or {}).items() if v}
        self.const = const

    @staticmethod
    def var(name: str) -> Ix:
        return Ix({name: 1})

    @staticmethod
    def of(x) -> Ix:
        if isinstance(x, Ix):
            return x
        if isinstance(x, str):
            return Ix.var(x)
        if isinstance(x, int):
            return Ix(None, x)
        raise TypeError(f"not an index term: {x!r}")

    @property
    def is_const(self) -> bool:
        return not self.terms

    @property
    def is_zero(self) -> bool:
        return not self.terms and not self.const

    def __add__(self, other) -> Ix:
        o = Ix.of(other)
        terms = dict(self.terms)
        for k, v in o.terms.items():
            terms[k] = terms.get(k, 0) + v
        return Ix(terms, self.const + o.const)

    __radd__ = __add__

    def __neg__(self) -> Ix:
        return Ix({k: -v for k, v in self.terms.items()}, -self.const)

    def __sub__(self, other) -> Ix:
        return self + -Ix.of(other)

    def __rsub__(self, other) -> Ix:
        return Ix.of(other) + -self

    def __mul__(self, other) -> Ix:
        o = Ix.of(other)
        if not o.is_const:
            if not self.is_const:
                raise ValueError(f"({self}) * ({o}) is not linear")
            return o * self.const
        return Ix({k: v * o.const for k, v in self.terms.items()}, self.const * o.const)

    __rmul__ = __mul__

    def __str__(self) -> str:
        """Added terms first, then the constant, then subtracted terms: `c * 49 + ih - 3`, `3136 - p0`."""
        pos = [k if v == 1 else f"{k} * {v}" for k, v in self.terms.items() if v > 0]
        neg = [k if v == -1 else f"{k} * {-v}" for k, v in self.terms.items() if v < 0]
        text = " + ".join(pos)
        if self.const or not (pos or neg):
            text = f"{text} {'-' if self.const < 0 else '+'} {abs(self.const)}" if text else str(self.const)
        for t in neg:
            text = f"{text} - {t}" if text else f"-{t}"
        return text

    def times(self, k: int) -> str:
        """The expression times k, written as (sum) * k: `(m0 + i) * 3136`, `c * 49`, `98` for a constant."""
        if self.is_const:
            return str(self.const * k)
        return str(self) if k == 1 else f"{self.paren} * {k}"

    @property
    def paren(self) -> str:
        """The expression, parenthesised when it is a sum (to follow a - or a *)."""
        s = str(self)
        return f"({s})" if len(self.terms) + bool(self.const) > 1 or s.startswith("-") else s


class Loop(Ix):
    """A C for loop over [start, stop) by step, compile-time bounds; as an index, its variable, or its one
    value when it runs once (head and tail then print nothing)."""

    __slots__ = ("name", "start", "stop", "step", "trips", "once")

    def __init__(self, name: str, stop: int, start: int = 0, step: int = 1, keep: bool = False):
        """keep: a loop even when it runs once (an OpenMP worksharing loop: its pragma needs one)."""
        self.name, self.start, self.stop, self.step = name, start, stop, step
        self.trips = max(0, -(-(stop - start) // step))
        self.once = self.trips == 1 and not keep  # no loop: the variable is its one value
        super().__init__(None if self.once else {name: 1}, start if self.once else 0)

    @property
    def head(self) -> str:
        if self.once:
            return ""
        inc = f"++{self.name}" if self.step == 1 else f"{self.name} += {self.step}"
        return f"for (long {self.name} = {self.start}; {self.name} < {self.stop}; {inc}) {{"

    @property
    def tail(self) -> str:
        return "" if self.once else "}"


def at(strides, v: str = "i", base: int = 0) -> Ix:
    """The offset base + sum of v<k> * strides[k] over loop variables v0, v1, ... (zero strides dropped)."""
    return sum((Ix.var(f"{v}{k}") * s for k, s in enumerate(strides)), Ix(None, base))


def zeros(ptr: str, lo: int, hi: int, zero: str = "0.0f") -> str:
    """C setting ptr[lo..hi) to zero: a loop, one assignment, or nothing."""
    if hi - lo <= 0:
        return ""
    if hi - lo == 1:
        return f"{ptr}[{lo}] = {zero};"
    return f"for (long i = {lo}; i < {hi}; ++i) {ptr}[i] = {zero};"


def plus(x, k: int = 1) -> str:
    """` + x` (times k) to add an offset to a pointer or index, nothing when x is zero."""
    x = Ix.of(x)
    return "" if x.is_zero else f" + {x.times(k)}"


def cmin(a, b) -> str:
    """min(a, b) in C: folded when both are known."""
    a, b = Ix.of(a), Ix.of(b)
    if a.is_const and b.is_const:
        return str(min(a.const, b.const))
    return f"{a} < {b} ? {a} : {b}"
