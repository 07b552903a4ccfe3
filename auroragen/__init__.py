"""auroragen: an ONNX-to-C compiler. ONNX -> Aurora IR -> passes -> schedule -> portable C."""

__version__ = "0.1.0"

from .compiler import CompileResult, compile, compile_graph  # noqa: E402
from .errors import AuroraError  # noqa: E402
from .frontend import load as import_onnx  # noqa: E402
from .interpret import interpret  # noqa: E402
from .loader import Model, load  # noqa: E402

__all__ = ["AuroraError", "CompileResult", "Model", "compile", "compile_graph", "import_onnx", "interpret", "load", "__version__"]
