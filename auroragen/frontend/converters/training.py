"""ai.onnx.preview.training's optimizer steps: deterministic elementwise updates of tensors.

Each takes the learning rate R and the step count T (scalars, given at run time), then per
optimised tensor X its gradient G and the optimizer's state, and returns the new X and state.
"""

from __future__ import annotations

from ...ir.types import DType
from ..importer import converter


class _Ops:
    """Arithmetic on IR values of one float type, with Python numbers as scalars of that type."""

    def __init__(self, ctx, dtype: DType):
        self.ctx, self.dtype = ctx, dtype

    def v(self, a):
        return self.ctx.scalar(float(a), self.dtype) if isinstance(a, (int, float)) else a

    def __getattr__(self, op):
        return lambda *args: self.ctx.emit(op, *[self.v(a) for a in args])


def _groups(ctx, tensors, per: int):
    n = len(tensors) // per
    if n * per != len(tensors) or n == 0:
        raise ctx.error(f"expected {per} tensors per optimised input, got {len(tensors)}")
    return [tensors[k * n:(k + 1) * n] for k in range(per)]


def _step_count(ctx, t, dtype):
    return ctx.emit("cast", t, to=dtype.value, src=t.dtype.value)


@converter("Adagrad", domain="ai.onnx.preview.training")
def adagrad(ctx, r, t, *tensors, decay_factor=0.0, epsilon=0.0, norm_coefficient=0.0):
    xs, gs, hs = _groups(ctx, tensors, 3)
    o = _Ops(ctx, r.dtype)
    rate = o.div(r, o.add(1.0, o.mul(_step_count(ctx, t, r.dtype), float(decay_factor))))
    new_x, new_h = [], []
    for x, g, h in zip(xs, gs, hs):
        greg = o.add(o.mul(float(norm_coefficient), x), g)
        h2 = o.add(h, o.mul(greg, greg))
        new_x.append(o.sub(x, o.div(o.mul(rate, greg), o.add(o.sqrt(h2), float(epsilon)))))
        new_h.append(h2)
    return tuple(new_x + new_h)


@converter("Adam", domain="ai.onnx.preview.training")
def adam(ctx, r, t, *tensors, alpha=0.9, beta=0.999, epsilon=0.0, norm_coefficient=0.0, norm_coefficient_post=0.0):
    xs, gs, vs, hs = _groups(ctx, tensors, 4)
    o = _Ops(ctx, r.dtype)
    tf = _step_count(ctx, t, r.dtype)
    # with bias correction from the first step on: r * sqrt(1 - beta^t) / (1 - alpha^t); at t = 0 plain r
    corrected = o.div(o.mul(r, o.sqrt(o.sub(1.0, o.pow(float(beta), tf)))), o.sub(1.0, o.pow(float(alpha), tf)))
    rate = o.where(o.greater(t, ctx.scalar(0, t.dtype)), corrected, r)
    new_x, new_v, new_h = [], [], []
    for x, g, v, h in zip(xs, gs, vs, hs):
        greg = o.add(o.mul(float(norm_coefficient), x), g)
        v2 = o.add(o.mul(float(alpha), v), o.mul(1.0 - float(alpha), greg))
        h2 = o.add(o.mul(float(beta), h), o.mul(1.0 - float(beta), o.mul(greg, greg)))
        x2 = o.sub(x, o.mul(rate, o.div(v2, o.add(o.sqrt(h2), float(epsilon)))))
        new_x.append(o.mul(1.0 - float(norm_coefficient_post), x2))
        new_v.append(v2)
        new_h.append(h2)
    return tuple(new_x + new_v + new_h)


@converter("Momentum", domain="ai.onnx.preview.training")
def momentum(ctx, r, t, *tensors, alpha, beta, mode, norm_coefficient):
    if mode not in ("standard", "nesterov"):
        raise ctx.error(f"mode {mode!r} is not one of standard, nesterov")
    xs, gs, vs = _groups(ctx, tensors, 3)
    o = _Ops(ctx, r.dtype)
    b = o.where(o.greater(t, ctx.scalar(0, t.dtype)), float(beta), 1.0)  # the gradient's weight is 1 at the first step
    new_x, new_v = [], []
    for x, g, v in zip(xs, gs, vs):
        greg = o.add(o.mul(float(norm_coefficient), x), g)
        v2 = o.add(o.mul(float(alpha), v), o.mul(b, greg))
        step = v2 if mode == "standard" else o.add(greg, o.mul(float(alpha), v2))
        new_x.append(o.sub(x, o.mul(r, step)))
        new_v.append(v2)
    return tuple(new_x + new_v)
