"""Control flow with regions.

`aurora.if(cond, captures...)` holds two branch graphs in its attributes. Each branch
takes the captures as its own inputs (in order) and gives the op's results; both give
the same types. Only the branch the condition picks runs.
"""

from __future__ import annotations

from ..graph import Graph
from ..types import TensorType
from .registry import register


def _if_type(cond: TensorType, *captures: TensorType, then_branch: Graph, else_branch: Graph) -> list[TensorType]:
    if cond.numel != 1:
        raise ValueError(f"the condition has {cond.numel} elements, not one")
    for name, g in (("then", then_branch), ("else", else_branch)):
        got = [v.type for v in g.inputs]
        if got != list(captures):
            raise ValueError(f"the {name} branch takes {', '.join(map(str, got)) or 'nothing'}, "
                             f"the op passes {', '.join(map(str, captures)) or 'nothing'}")
    a = [v.type for v in then_branch.outputs]
    b = [v.type for v in else_branch.outputs]
    if a != b:
        raise ValueError(f"the branches give {', '.join(map(str, a))} and {', '.join(map(str, b))}")
    return a


@register("if", infer=_if_type, control=True, bitwise=True)
def if_(cond, *captures, then_branch: Graph, else_branch: Graph):
    """Run the branch the condition picks on the captured values."""
    from ..interpret import interpret  # the interpreter runs nodes through these ops: imported on use, a cycle

    return interpret(then_branch if bool(cond.reshape(-1)[0]) else else_branch, list(captures))
