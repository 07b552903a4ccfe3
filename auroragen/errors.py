"""The one error type users see: a message that names the node and the problem."""

from __future__ import annotations


class AuroraError(Exception):
    """A problem with the user's model or options, reported as one line."""

    def __init__(self, message: str, *, node: str | None = None, op: str | None = None):
        self.node = node
        self.op = op
        self.message = message
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.op is not None or self.node is not None:
            name = self.node if self.node else "<unnamed>"
            where = f"node {_quote(name)} ({self.op}): " if self.op else f"node {_quote(name)}: "
        return _one_line(where + self.message)


class NeedsConstant(AuroraError):
    """An input that decides shapes is a runtime graph input; `--bind` can fix its value."""

    def __init__(self, message: str, *, value_name: str, node: str | None = None, op: str | None = None):
        self.value_name = value_name
        super().__init__(message, node=node, op=op)


def _quote(s: str) -> str:
    return repr(s) if s.isprintable() else ascii(s)


def _one_line(s: str) -> str:
    return " ".join(s.split())
