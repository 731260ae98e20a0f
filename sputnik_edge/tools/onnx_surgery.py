"""ONNX graph surgery of the prepare step: constant folding, dangling inputs, PRelu, dynamic axes.

Pure functions on an ``onnx.ModelProto`` (the ``onnx`` package: the dev extra), each returning
how much it changed so the prepare step can log it.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class PrepareError(RuntimeError):
    """The source models could not be found, folded or verified."""


def fold_constants(model: Any) -> int:
    """Evaluate every node whose inputs are all constant and store its outputs as initialisers.

    Returns the number of folded nodes. Nodes are in topological order (an ONNX requirement), so
    one pass catches chains like DequantizeLinear -> Reshape.
    """
    from onnx import AttributeProto, numpy_helper
    from onnx.reference import ReferenceEvaluator

    graph = model.graph
    opsets = {o.domain or "": o.version for o in model.opset_import}
    consts: dict[str, np.ndarray] = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    order = [i.name for i in graph.initializer]
    kept = []
    folded = 0
    for node in graph.node:
        has_subgraph = any(a.type in (AttributeProto.GRAPH, AttributeProto.GRAPHS) for a in node.attribute)
        inputs = [name for name in node.input if name]
        if node.domain not in ("", "ai.onnx") or has_subgraph or not all(n in consts for n in inputs):
            kept.append(node)
            continue
        outputs = ReferenceEvaluator(node, opsets=opsets).run(None, {n: consts[n] for n in inputs})
        for name, value in zip(node.output, outputs, strict=True):
            consts[name] = np.asarray(value)
            order.append(name)
        folded += 1

    used = {name for node in kept for name in node.input} | {o.name for o in graph.output}
    del graph.node[:]
    graph.node.extend(kept)
    del graph.initializer[:]
    graph.initializer.extend(numpy_helper.from_array(consts[n], n) for n in order if n in used)
    left = [n.name for n in graph.node if n.op_type in ("DequantizeLinear", "QuantizeLinear")]
    if left:
        raise PrepareError(f"quantisation nodes left after folding: {left[:5]}")
    return folded


def drop_constant_inputs(model: Any) -> int:
    """Remove graph inputs that are initialisers or feed no node; returns how many were dropped."""
    graph = model.graph
    inits = {i.name for i in graph.initializer}
    used = {name for node in graph.node for name in node.input}
    keep = [i for i in graph.input if i.name not in inits and i.name in used]
    dropped = len(graph.input) - len(keep)
    del graph.input[:]
    graph.input.extend(keep)
    return dropped


def rewrite_prelu(model: Any) -> int:
    """Replace PRelu(x, s) by Relu(x) * (1 - s) + x * s; returns how many were rewritten.

    onnxruntime's PRelu with a per-channel (C, 1, 1) slope is a slow generic broadcast. In this
    form, on x86 the NCHWc layout pass turns both per-channel Muls into 1x1 depthwise NCHWc
    convolutions and fuses the Add as their sum input, so the whole network stays in the blocked
    layout (no reorder nodes): SFace runs ~2x faster than with Relu(x) + s * (x - Relu(x)), which
    needed 54 layout reorders and three unfused elementwise ops per layer. Not bit-exact (two
    roundings instead of one): max abs diff ~2e-6 on SFace. Slopes outside [0, 1] rule out the
    cheaper Max(x, s * x). The slope must be an initialiser (true after fold_constants).
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    nodes = []
    count = 0
    for node in graph.node:
        if node.op_type != "PRelu":
            nodes.append(node)
            continue
        x, slope = node.input
        if slope not in inits:
            raise PrepareError(f"PRelu {node.name}: slope {slope} is not an initialiser")
        s = numpy_helper.to_array(inits[slope])
        keep = f"{slope}__one_minus"
        if keep not in inits:
            inits[keep] = numpy_helper.from_array((np.float32(1) - s).astype(s.dtype), keep)
            graph.initializer.append(inits[keep])
        y = node.output[0]
        pos, pos_scaled, x_scaled = f"{y}__pos", f"{y}__pos_scaled", f"{y}__x_scaled"
        nodes.extend(
            [
                helper.make_node("Relu", [x], [pos], name=f"{node.name}__relu"),
                helper.make_node("Mul", [pos, keep], [pos_scaled], name=f"{node.name}__mul_pos"),
                helper.make_node("Mul", [x, slope], [x_scaled], name=f"{node.name}__mul_x"),
                helper.make_node("Add", [pos_scaled, x_scaled], [y], name=f"{node.name}__add"),
            ]
        )
        count += 1
    del graph.node[:]
    graph.node.extend(nodes)
    return count


def make_dynamic(model: Any, inputs: dict[int, str], outputs: dict[int, str]) -> None:
    graph = model.graph
    if len(graph.input) != 1:
        raise PrepareError(f"expected one image input, found {[i.name for i in graph.input]}")
    dims = graph.input[0].type.tensor_type.shape.dim
    for axis, param in inputs.items():
        dims[axis].dim_param = param  # setting dim_param clears dim_value (oneof)
    for out in graph.output:
        odims = out.type.tensor_type.shape.dim
        for axis, param in outputs.items():
            odims[axis].dim_param = param if param == "batch" else f"{param}_{out.name}"
    # Intermediate shapes recorded for the fixed size would contradict the dynamic ones.
    del graph.value_info[:]


def rewrite_prelu_for_int8(model: Any) -> tuple[int, int]:
    """Replace PRelu(x, s) by x + Relu(DWConv_{s-1}(x)), DWConv a 1x1 depthwise convolution.

    For int8 (QDQ) graphs. For s <= 1: Relu((s - 1) x) = (1 - s) Relu(-x), which is 0 for x > 0
    and (s - 1) x for x < 0, so the sum is x or s x: PRelu. onnxruntime fuses the Relu into the
    depthwise QLinearConv, so a PRelu costs one cheap convolution and one QLinearAdd.
    rewrite_prelu's float form leaves a QLinearMul per branch (a slow broadcast) and a
    requantising DequantizeLinear -> QuantizeLinear pair per Relu with two consumers: measured
    here, that int8 graph was no faster than float; DWConv_s(x) + Relu(DWConv_{1-s}(x)) spent 21 %
    of the time in the extra convolution. The few slopes above 1 (where 1 - s < 0 breaks the
    identity) are clipped to 1, which moves the float output by a cosine of ~1e-4.
    Returns (rewritten PRelu nodes, clipped slopes).
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    nodes = []
    count = clipped = 0
    for node in graph.node:
        if node.op_type != "PRelu":
            nodes.append(node)
            continue
        x, slope = node.input
        if slope not in inits:
            raise PrepareError(f"PRelu {node.name}: slope {slope} is not an initialiser")
        s = numpy_helper.to_array(inits[slope]).astype(np.float32).reshape(-1)
        clipped += int((s > 1).sum())
        s = np.minimum(s, np.float32(1))
        channels = int(s.size)
        neg_w = f"{slope}__dw_neg"
        graph.initializer.append(numpy_helper.from_array((s - 1).reshape(channels, 1, 1, 1), neg_w))
        y = node.output[0]
        nodes.extend(
            [
                helper.make_node(
                    "Conv",
                    [x, neg_w],
                    [f"{y}__neg_in"],
                    name=f"{node.name}__neg",
                    group=channels,
                    kernel_shape=[1, 1],
                ),
                helper.make_node("Relu", [f"{y}__neg_in"], [f"{y}__neg"], name=f"{node.name}__relu"),
                helper.make_node("Add", [x, f"{y}__neg"], [y], name=f"{node.name}__add"),
            ]
        )
        count += 1
    _replace_nodes(graph, nodes)
    return count, clipped


def _replace_nodes(graph: Any, nodes: list[Any]) -> None:
    """Set the graph's nodes and drop the initialisers no node reads any more."""
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for n in graph.node for name in n.input}
    keep = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)


def _bn_affine(inits: dict[str, Any], node: Any) -> tuple[np.ndarray, np.ndarray]:
    """(scale, shift) of an inference BatchNormalization: y = scale * x + shift per channel."""
    from onnx import numpy_helper

    names = node.input[1:5]
    if not all(n in inits for n in names):
        raise PrepareError(f"BatchNormalization {node.name}: parameters are not initialisers")
    gamma, beta, mean, var = (numpy_helper.to_array(inits[n]).astype(np.float64) for n in names)
    eps = next((a.f for a in node.attribute if a.name == "epsilon"), 1e-5)
    scale = gamma / np.sqrt(var + eps)
    return scale, beta - mean * scale


def fold_head_batchnorms(model: Any) -> int:
    """Fold the BatchNormalizations around the embedding head into its Gemm; returns how many.

    SFace ends in BatchNormalization -> Dropout -> Flatten -> Gemm(transB) -> BatchNormalization.
    In inference both normalisations are per-feature affine maps and Dropout is the identity, so
    the head is one Gemm with rescaled weights and a new bias: exact up to float rounding. The
    quantiser cannot fold these itself (quant_pre_process only folds a BatchNormalization into the
    convolution before it), and left in the int8 graph each one costs a dequantise, a float
    normalisation and a requantise on the path of every face.
    """
    from onnx import numpy_helper

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def attr(node: Any, name: str, default: float) -> float:
        return next((a.f if a.type == 1 else a.i for a in node.attribute if a.name == name), default)

    gemms = [n for n in graph.node if n.op_type == "Gemm" and attr(n, "transB", 0) == 1]
    if len(gemms) != 1 or len(gemms[0].input) != 3:
        raise PrepareError(f"expected one Gemm(transB=1) with a bias in the head, found {len(gemms)}")
    gemm = gemms[0]
    if attr(gemm, "alpha", 1.0) != 1.0 or attr(gemm, "beta", 1.0) != 1.0 or attr(gemm, "transA", 0) != 0:
        raise PrepareError(f"Gemm {gemm.name}: alpha, beta and transA must be the defaults")
    flatten = producer.get(gemm.input[0])
    dropout = producer.get(flatten.input[0]) if flatten is not None else None
    before = producer.get(dropout.input[0]) if dropout is not None else None
    after = consumers.get(gemm.output[0], [])
    if (
        flatten is None
        or flatten.op_type != "Flatten"
        or dropout is None
        or dropout.op_type != "Dropout"
        or len([o for o in dropout.output if o]) != 1
        or before is None
        or before.op_type != "BatchNormalization"
        or len(after) != 1
        or after[0].op_type != "BatchNormalization"
        or any(len(consumers.get(n.output[0], [])) != 1 for n in (before, dropout, flatten))
    ):
        raise PrepareError(f"Gemm {gemm.name}: not the BatchNormalization-Dropout-Flatten-Gemm-BN head")
    if gemm.input[1] not in inits or gemm.input[2] not in inits:
        raise PrepareError(f"Gemm {gemm.name}: weights or bias are not initialisers")
    weight = numpy_helper.to_array(inits[gemm.input[1]]).astype(np.float64)
    bias = numpy_helper.to_array(inits[gemm.input[2]]).astype(np.float64)
    in_scale, in_shift = _bn_affine(inits, before)
    if weight.shape[1] % in_scale.size:
        raise PrepareError(f"Gemm {gemm.name}: {weight.shape[1]} inputs are not {in_scale.size} channels")
    # Flatten of NCHW: feature k belongs to channel k // (H * W).
    spatial = weight.shape[1] // in_scale.size
    bias = bias + weight @ np.repeat(in_shift, spatial)
    weight = weight * np.repeat(in_scale, spatial)[None, :]
    out_scale, out_shift = _bn_affine(inits, after[0])
    weight = weight * out_scale[:, None]
    bias = bias * out_scale + out_shift
    w_name, b_name = f"{gemm.name}__folded_weight", f"{gemm.name}__folded_bias"
    graph.initializer.extend(
        [
            numpy_helper.from_array(weight.astype(np.float32), w_name),
            numpy_helper.from_array(bias.astype(np.float32), b_name),
        ]
    )
    flatten.input[0] = before.input[0]
    gemm.input[1], gemm.input[2] = w_name, b_name
    gemm.output[0] = after[0].output[0]
    drop = {before.output[0], dropout.output[0], after[0].output[0]}
    _replace_nodes(graph, [n for n in graph.node if n.output[0] not in drop or n.op_type == "Gemm"])
    return 2
