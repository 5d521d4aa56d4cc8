#!/usr/bin/env python3
"""Checks an ONNX model written by chrysalis::export_onnx against the logits chrysalis computed.

    check_onnx.py MODEL INPUT.npy LOGITS.npy [--rtol R] [--same-argmax]

INPUT.npy holds the samples as chrysalis does, features x batch (one sample per column), and
LOGITS.npy the network's Mode::inference output for them, classes x batch; chrysalis::save_npy
writes both. The script
  1. loads the model and runs onnx.checker.check_model(full_check=True);
  2. checks what export_onnx promises: IR version 8, opset 17 of the default domain, producer
     "chrysalis", one input "input" of [batch, features] and one output "logits" of
     [batch, classes], both of the input file's dtype (float32 or float64);
  3. runs shape inference in strict mode twice: on the model as written, and with the output's
     shape removed, where the shape inferred for "logits" must be [batch, classes];
  4. evaluates the graph with a small NumPy interpreter of the operators export_onnx emits, in
     the graph's own dtype (as an ONNX runtime would), on the samples as rows, and compares the
     result with the logits: for every sample, max |onnx - chrysalis| over its logits divided by
     its largest |logit| must be at most R;
  5. with --same-argmax, requires the graph's class (the index of the largest logit) to be
     chrysalis's for every sample.
It prints one line with the largest of those relative errors and the number of samples whose
class agrees, and exits with status 0 if every check passed, 1 otherwise. It needs only onnx
(Debian: python3-onnx, 1.12) and NumPy.

The default tolerance R: 1e-5 for float32 and 1e-12 for float64. chrysalis and NumPy evaluate
the same operations in the same precision but not in the same order: chrysalis's GEMM blocks and
vectorises its dot products (with FMA), NumPy's matmul goes through BLAS. A dot product of K
terms then differs by up to about K*u*sum|w_j*x_j| (u = 2^-24 = 6e-8 in float32, 2^-53 = 1.1e-16
in float64), and erf, tanh and exp may differ by an ulp or two between libm, Eigen and NumPy.
For the test's networks (K <= 10, four Dense layers, logits of order 1) that bounds the
difference by about 1e-6 of the largest logit in float32 and 1e-14 in float64 (the test sees
1e-7 to 6e-7 and 2e-16 to 1e-15), so R leaves a margin of ten or more, while a mistake in the
mapping (a transposed weight, a wrong slope or constant, a missing bias) changes the logits by a
fraction of their size, far above R.

The models of an Int8Network (export_onnx(const Int8Network&, path)) hold int8 and int32
tensors between the float ones: MatMulInteger is evaluated exactly in int64 (and must fit int32,
as its result type says), Round is NumPy's half-to-even, and Cast of a NaN or infinite float to
an integer type, which ONNX leaves undefined, is an error here. Each float operation is one
float32 operation in NumPy, as in chrysalis, so where only Relu, LeakyRelu and Identity follow
the Dense layers the logits agree exactly and the test passes --rtol 0.
"""

import argparse
import math
import sys

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference

IR_VERSION = 8
OPSET = 17
DTYPES = {onnx.TensorProto.FLOAT: np.float32, onnx.TensorProto.DOUBLE: np.float64}


def attributes(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def gemm(x, node):
    a, b, c = x
    at = attributes(node)
    if at.get("transA", 0):
        a = a.T
    if at.get("transB", 0):
        b = b.T
    y = a @ b
    alpha, beta = at.get("alpha", 1.0), at.get("beta", 1.0)
    if alpha != 1.0:
        y = y * y.dtype.type(alpha)
    if c is not None:
        y = y + (c if beta == 1.0 else c * c.dtype.type(beta))
    return y


def sigmoid(x):
    with np.errstate(over="ignore"):  # exp(-x) = inf for x << 0 gives 1/inf = 0, as it should
        return x.dtype.type(1) / (x.dtype.type(1) + np.exp(-x))


_erf = np.vectorize(math.erf, otypes=[np.float64])

# TensorProto data types of the tensors Cast produces here.
CAST_TYPES = {1: np.float32, 3: np.int8, 6: np.int32, 11: np.float64}


def cast(x, node):
    to = CAST_TYPES[attributes(node)["to"]]
    if np.issubdtype(to, np.integer) and not np.all(np.isfinite(x[0])):
        raise ValueError(f"node {node.name}: Cast of a NaN or infinite value to an integer type, "
                         "which ONNX leaves undefined")
    return x[0].astype(to)


def matmul_integer(x, node):
    a, b = x[0], x[1]
    if len(x) > 2 and any(z is not None and np.any(z) for z in x[2:]):
        raise ValueError(f"node {node.name}: MatMulInteger with nonzero zero points")
    if a.dtype != np.int8 or b.dtype != np.int8:
        raise ValueError(f"node {node.name}: MatMulInteger of {a.dtype} and {b.dtype}, "
                         "expected int8 and int8")
    y = a.astype(np.int64) @ b.astype(np.int64)  # exact
    if np.any(np.abs(y) > np.iinfo(np.int32).max):
        raise ValueError(f"node {node.name}: MatMulInteger sum beyond int32")
    return y.astype(np.int32)


def reduce(function):
    def apply(x, node):
        at = attributes(node)
        axes = tuple(at["axes"]) if "axes" in at else None
        return function(x[0], axis=axes, keepdims=bool(at.get("keepdims", 1)))
    return apply

OPS = {
    "Gemm": gemm,
    "Relu": lambda x, node: np.maximum(x[0], x[0].dtype.type(0)),
    "LeakyRelu": lambda x, node: np.where(
        x[0] < 0, x[0] * x[0].dtype.type(attributes(node).get("alpha", 0.01)), x[0]),
    "PRelu": lambda x, node: np.where(x[0] < 0, x[0] * x[1], x[0]),
    "Tanh": lambda x, node: np.tanh(x[0]),
    "Sigmoid": lambda x, node: sigmoid(x[0]),
    # math.erf in double, rounded to the tensor's dtype: within an ulp of any float32 erf
    "Erf": lambda x, node: _erf(x[0].astype(np.float64)).astype(x[0].dtype),
    "Add": lambda x, node: x[0] + x[1],
    "Sub": lambda x, node: x[0] - x[1],
    "Mul": lambda x, node: x[0] * x[1],
    "Div": lambda x, node: x[0] / x[1],
    "Identity": lambda x, node: x[0],
    # the int8 network's operators
    "Abs": lambda x, node: np.abs(x[0]),
    "ReduceMax": reduce(np.max),
    "ReduceSumSquare": reduce(lambda v, axis, keepdims: np.sum(v * v, axis=axis,
                                                              keepdims=keepdims)),
    "Greater": lambda x, node: x[0] > x[1],
    "IsNaN": lambda x, node: np.isnan(x[0]),
    "Where": lambda x, node: np.where(x[0], x[1], x[2]),
    "Clip": lambda x, node: np.minimum(np.maximum(x[0], x[1]), x[2]),
    "Round": lambda x, node: np.round(x[0]),  # half to even, as ONNX's Round
    "Cast": cast,
    "MatMulInteger": matmul_integer,
}


def evaluate(graph, samples):
    """The graph's output for `samples` (batch x features), in topological node order."""
    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    values[graph.input[0].name] = samples
    # IEEE arithmetic is the point (0 * inf = NaN in an int8 model's scale): no warnings
    with np.errstate(all="ignore"):
        for node in graph.node:
            evaluate_node(node, values, samples.dtype)
    out = values[graph.output[0].name]
    if out.dtype != samples.dtype:
        raise ValueError(f"the graph's output is {out.dtype}, not its input's {samples.dtype}")
    return out


def evaluate_node(node, values, dtype):
    """Runs one node on `values`, adding its output. Float results must be of the graph's float
    dtype (a float64 step in a float32 graph would hide the rounding a runtime does)."""
    if node.domain not in ("", "ai.onnx"):
        raise ValueError(f"node {node.name}: operator of domain {node.domain!r}")
    if node.op_type not in OPS:
        raise ValueError(f"node {node.name}: no interpreter for operator {node.op_type}")
    inputs = [values[name] if name else None for name in node.input]
    out = OPS[node.op_type](inputs, node)
    if out.dtype.kind == "f" and out.dtype != dtype:
        raise ValueError(f"node {node.name} ({node.op_type}) gave {out.dtype}, "
                         f"not the graph's {dtype}")
    values[node.output[0]] = out


def dims(value_info):
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


def check(model_path, input_path, logits_path, rtol, same_argmax=False):
    samples = np.load(input_path).T.copy()  # features x batch -> batch x features
    expected = np.load(logits_path).T       # classes x batch -> batch x classes
    dtype = samples.dtype.type
    if rtol is None:
        rtol = 1e-5 if dtype == np.float32 else 1e-12
    features, classes = samples.shape[1], expected.shape[1]

    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)
    problems = []
    if model.ir_version != IR_VERSION:
        problems.append(f"IR version {model.ir_version}, expected {IR_VERSION}")
    opsets = {o.domain: o.version for o in model.opset_import}
    if opsets != {"": OPSET}:
        problems.append(f"opsets {opsets}, expected {{'': {OPSET}}}")
    if model.producer_name != "chrysalis":
        problems.append(f"producer {model.producer_name!r}")
    graph = model.graph
    if [i.name for i in graph.input] != ["input"] or [o.name for o in graph.output] != ["logits"]:
        problems.append("inputs/outputs are not ['input'] / ['logits']")
    for vi, width in ((graph.input[0], features), (graph.output[0], classes)):
        elem = vi.type.tensor_type.elem_type
        if DTYPES.get(elem) is not dtype:
            problems.append(f"{vi.name} has element type {elem}, expected {np.dtype(dtype)}")
        if dims(vi) != ["batch", width]:
            problems.append(f"{vi.name} has shape {dims(vi)}, expected ['batch', {width}]")

    shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    stripped = onnx.ModelProto()
    stripped.CopyFrom(model)
    stripped.graph.output[0].type.tensor_type.ClearField("shape")
    inferred = shape_inference.infer_shapes(stripped, check_type=True, strict_mode=True)
    if dims(inferred.graph.output[0]) != ["batch", classes]:
        problems.append(f"inferred output shape {dims(inferred.graph.output[0])}, "
                        f"expected ['batch', {classes}]")

    got = evaluate(graph, samples)
    if got.shape != expected.shape:
        problems.append(f"the graph gives {got.shape}, the logits are {expected.shape}")
        worst = math.inf
        agree = 0
    else:
        scale = np.max(np.abs(expected), axis=1)
        if not np.all(scale > 0):
            problems.append("a sample's logits are all zero: nothing to compare against")
        worst = float(np.max(np.max(np.abs(got.astype(np.float64) - expected), axis=1) / scale))
        if not worst <= rtol:
            problems.append(f"max relative error {worst:.3g} exceeds the tolerance {rtol:g}")
        agree = int(np.sum(np.argmax(got, axis=1) == np.argmax(expected, axis=1)))
        if same_argmax and agree != samples.shape[0]:
            problems.append(f"the class differs on {samples.shape[0] - agree} samples")

    status = "ok" if not problems else "FAILED: " + "; ".join(problems)
    print(f"check_onnx: {model_path}: {len(graph.node)} nodes, {np.dtype(dtype)}, "
          f"{samples.shape[0]} samples, max relative error {worst:.3g} "
          f"(tolerance {rtol:g}), the same class for {agree} of {samples.shape[0]}: {status}")
    return not problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("input", help=".npy, features x batch")
    parser.add_argument("logits", help=".npy, classes x batch")
    parser.add_argument("--rtol", type=float, default=None,
                        help="tolerance (default 1e-5 for float32, 1e-12 for float64)")
    parser.add_argument("--same-argmax", action="store_true",
                        help="require the same class (largest logit) for every sample")
    args = parser.parse_args()
    sys.exit(0 if check(args.model, args.input, args.logits, args.rtol, args.same_argmax) else 1)


if __name__ == "__main__":
    main()
