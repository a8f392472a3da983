"""Exported policies: run a trained agent without JAX (NumPy) or anywhere (ONNX).

    from offpolicy.export import NumpyPolicy
    pi = NumpyPolicy.load("policy.npz")       # written by `offpolicy export RUN_DIR` or model.export("policy.npz")
    action = pi(obs)                          # in the env's own bounds, or the greedy action index

Importing this package needs NumPy only: it imports neither JAX, Flax nor Gymnasium (the writer,
``offpolicy.export.writer``, does; the ONNX builder, ``offpolicy.export.onnx_model``, needs ``offpolicy[onnx]``).
The file format is specified in ``offpolicy.export.numpy_policy`` and docs/export.md.
"""

from offpolicy.errors import ExportFormatError
from offpolicy.export.numpy_policy import FORMAT, FORMAT_VERSION, NumpyPolicy

__all__ = ["NumpyPolicy", "ExportFormatError", "FORMAT", "FORMAT_VERSION"]
