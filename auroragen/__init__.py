"""auroragen: an ONNX-to-C compiler. ONNX -> Aurora IR -> passes -> schedule -> portable C."""

from .compiled import Model, load
from .compiler import CompileResult, compile, compile_graph
from .errors import AuroraError
from .frontend import load as import_onnx
from .interpret import interpret
from .version import __version__

__all__ = ["AuroraError", "CompileResult", "Model", "compile", "compile_graph", "import_onnx", "interpret", "load", "__version__"]
