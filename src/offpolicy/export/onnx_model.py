"""The exported policy as an ONNX model, built from the policy file's arrays with the ``onnx`` helper API.

Our networks are small MLPs, so the graph is written node by node (MatMul, Add, Relu/Tanh, then the head) rather than
traced through a converter: it is exact, and needs only ``onnx`` (``pip install "offpolicy[onnx]"``).

    input  obs     float32 [batch, obs_dim]          (batch is dynamic)
    output action  float32 [batch, action_dim]       continuous: in the env's bounds
                   int64   [batch]                   discrete: the greedy action index
The policy file's metadata (JSON) is in the model's metadata_props under ``offpolicy``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from offpolicy._version import __version__
from offpolicy.errors import OffpolicyError
from offpolicy.export.numpy_policy import (
    METADATA_KEY,
    SUPPORT_KEY,
    bias_key,
    decode_metadata,
    kernel_key,
    validate,
)

OPSET = 17
IR_VERSION = 8  # the IR version of opset 17, read by onnxruntime >= 1.13
INSTALL = 'pip install "offpolicy[onnx]"'


def require_onnx() -> Any:
    """The ``onnx`` module, or a one-line OffpolicyError naming the install command."""
    try:
        import onnx
    except ImportError:
        raise OffpolicyError(f"ONNX export needs the onnx package: {INSTALL}") from None
    return onnx


def build_model(arrays: Mapping[str, np.ndarray]) -> Any:
    """An ``onnx.ModelProto`` computing the same policy as ``NumpyPolicy`` on the policy file's ``arrays``."""
    onnx = require_onnx()
    from onnx import TensorProto, helper, numpy_helper

    meta = validate(arrays, "the exported policy")
    initializers, nodes = [], []

    def const(name: str, value: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    x = "obs"
    for i, layer in enumerate(meta["layers"]):
        kernel = const(kernel_key(i), arrays[kernel_key(i)])
        bias = const(bias_key(i), arrays[bias_key(i)])
        nodes.append(helper.make_node("MatMul", [x, kernel], [f"layers.{i}.matmul"]))
        nodes.append(helper.make_node("Add", [f"layers.{i}.matmul", bias], [f"layers.{i}.linear"]))
        x = f"layers.{i}.linear"
        if layer["activation"] != "identity":
            op = {"relu": "Relu", "tanh": "Tanh"}[layer["activation"]]
            nodes.append(helper.make_node(op, [x], [f"layers.{i}.{layer['activation']}"]))
            x = f"layers.{i}.{layer['activation']}"

    obs_dim = meta["obs_shape"][0]
    if meta["head"] == "categorical_argmax":  # C51: Q = sum_i z_i softmax(logits[a])_i, as NumpyPolicy
        support = np.asarray(arrays[SUPPORT_KEY])
        const(SUPPORT_KEY, support)
        const("head.shape", np.asarray([-1, meta["action"]["n_actions"], support.shape[0]], np.int64))
        const("head.atom_axis", np.asarray([-1], np.int64))
        nodes += [
            helper.make_node("Reshape", [x, "head.shape"], ["head.logits"]),
            helper.make_node("Softmax", ["head.logits"], ["head.probs"], axis=-1),
            helper.make_node("Mul", ["head.probs", SUPPORT_KEY], ["head.weighted"]),
            helper.make_node("ReduceSum", ["head.weighted", "head.atom_axis"], ["head.q"], keepdims=0),
        ]
        x = "head.q"
    if meta["head"] in ("argmax", "categorical_argmax"):
        nodes.append(helper.make_node("ArgMax", [x], ["action"], axis=-1, keepdims=0))  # first index on ties
        output = helper.make_tensor_value_info("action", TensorProto.INT64, ["batch"])
    else:  # tanh_then_rescale: clip(low + (tanh(x) + 1) * (high - low) / 2, low, high), as NumpyPolicy
        low, high = np.asarray(arrays["action.low"]), np.asarray(arrays["action.high"])
        const("action.low", low)
        const("action.high", high)
        const("action.half_range", (high - low) / np.float32(2))
        const("one", np.asarray(1.0, np.float32))
        nodes += [
            helper.make_node("Tanh", [x], ["head.tanh"]),
            helper.make_node("Add", ["head.tanh", "one"], ["head.shifted"]),
            helper.make_node("Mul", ["head.shifted", "action.half_range"], ["head.scaled"]),
            helper.make_node("Add", ["action.low", "head.scaled"], ["head.rescaled"]),
            helper.make_node("Max", ["head.rescaled", "action.low"], ["head.above_low"]),
            helper.make_node("Min", ["head.above_low", "action.high"], ["action"]),
        ]
        output = helper.make_tensor_value_info("action", TensorProto.FLOAT, ["batch", int(low.shape[0])])
    graph = helper.make_graph(
        nodes, f"offpolicy_{meta['algo']}_policy",
        [helper.make_tensor_value_info("obs", TensorProto.FLOAT, ["batch", obs_dim])], [output], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="offpolicy",
                              producer_version=__version__,
                              doc_string=f"offpolicy {meta['algo']} policy for {meta['env']} (docs/export.md)")
    model.ir_version = IR_VERSION
    metadata_json = json.dumps(decode_metadata(np.asarray(arrays[METADATA_KEY]), "the exported policy"),
                               sort_keys=True)
    helper.set_model_props(model, {"offpolicy": metadata_json, "algo": meta["algo"], "env": meta["env"]})
    onnx.checker.check_model(model)
    return model
