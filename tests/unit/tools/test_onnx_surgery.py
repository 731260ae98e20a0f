"""onnx_surgery.fold_head_batchnorms on a small graph of the same shape and on SFace itself, and
the shipped int8 SFace holding what the recipe in quantize_sface says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from sputnik_edge.tools.onnx_surgery import PrepareError, fold_head_batchnorms
from sputnik_edge.tools.quantize_sface import FLOAT_PREFIX, int8_graph
from sputnik_edge.vision.align import align_face
from sputnik_edge.vision.detector import YuNetDetector


def _run(model: Any, feed: dict[str, np.ndarray]) -> np.ndarray:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(sess.run(None, feed)[0])


def _bn(name: str, x: str, y: str, channels: int, rng: np.random.Generator) -> tuple[Any, list[Any]]:
    params = [
        numpy_helper.from_array(rng.uniform(0.5, 2.0, channels).astype(np.float32), f"{name}_gamma"),
        numpy_helper.from_array(rng.normal(0, 1, channels).astype(np.float32), f"{name}_beta"),
        numpy_helper.from_array(rng.normal(0, 1, channels).astype(np.float32), f"{name}_mean"),
        numpy_helper.from_array(rng.uniform(0.1, 3.0, channels).astype(np.float32), f"{name}_var"),
    ]
    node = helper.make_node(
        "BatchNormalization", [x, *(p.name for p in params)], [y], name=name, epsilon=2e-5
    )
    return node, params


def _head(rng: np.random.Generator, *, with_dropout: bool = True) -> Any:
    c, h, w, out = 8, 3, 3, 5
    bn1, p1 = _bn("bn1", "x", "bn1", c, rng)
    bn2, p2 = _bn("fc1", "pre_fc1", "fc1", out, rng)
    weight = numpy_helper.from_array(rng.normal(0, 1, (out, c * h * w)).astype(np.float32), "W")
    bias = numpy_helper.from_array(rng.normal(0, 1, out).astype(np.float32), "B")
    nodes = [bn1]
    flat_in = "bn1"
    if with_dropout:
        nodes.append(helper.make_node("Dropout", ["bn1"], ["drop"], name="dropout5"))
        flat_in = "drop"
    nodes += [
        helper.make_node("Flatten", [flat_in], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "W", "B"], ["pre_fc1"], name="pre_fc1", transB=1),
        bn2,
    ]
    graph = helper.make_graph(
        nodes,
        "head",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, c, h, w])],
        [helper.make_tensor_value_info("fc1", TensorProto.FLOAT, [None, out])],
        initializer=[*p1, *p2, weight, bias],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_fold_head_is_exact_on_a_small_head() -> None:
    rng = np.random.default_rng(7)
    model = _head(rng)
    x = rng.normal(0, 2, (4, 8, 3, 3)).astype(np.float32)
    before = _run(model, {"x": x})
    assert fold_head_batchnorms(model) == 2
    onnx.checker.check_model(model, full_check=True)
    assert [n.op_type for n in model.graph.node] == ["Flatten", "Gemm"]
    assert {i.name for i in model.graph.initializer} == {"pre_fc1__folded_weight", "pre_fc1__folded_bias"}
    np.testing.assert_allclose(_run(model, {"x": x}), before, rtol=1e-5, atol=1e-5)


def test_fold_head_refuses_another_head() -> None:
    model = _head(np.random.default_rng(1), with_dropout=False)
    with pytest.raises(PrepareError, match="Gemm pre_fc1: not the BatchNormalization-Dropout-Flatten"):
        fold_head_batchnorms(model)


def test_fold_head_on_sface_keeps_its_embeddings(
    dev_images: list[tuple[Path, np.ndarray]], yunet_path: Path
) -> None:
    from sputnik_edge.tools.onnx_surgery import (
        drop_constant_inputs,
        fold_constants,
        make_dynamic,
        rewrite_prelu_for_int8,
    )
    from sputnik_edge.tools.prepare_models import RECIPES, read_sources

    sources, _version = read_sources(None)
    recipe = next(r for r in RECIPES if r.name == "embedder")
    model = int8_graph(sources[recipe.source_file], recipe.dynamic_inputs, recipe.dynamic_outputs)
    # int8_graph folded the head already: the last PRelu's Add feeds Flatten -> Gemm.
    assert [n.op_type for n in model.graph.node[-3:]] == ["Add", "Flatten", "Gemm"]
    detector = YuNetDetector(yunet_path, threads=1)
    crops = [align_face(img, detector.detect(img)[0].landmarks) for _, img in dev_images[:6]]
    blob = np.ascontiguousarray(np.stack(crops)[..., ::-1].transpose(0, 3, 1, 2), np.float32)
    unfolded = onnx.load_from_string(sources[recipe.source_file])
    fold_constants(unfolded)
    drop_constant_inputs(unfolded)
    rewrite_prelu_for_int8(unfolded)
    make_dynamic(unfolded, recipe.dynamic_inputs, recipe.dynamic_outputs)
    ref = _run(unfolded, {"data": blob})
    np.testing.assert_allclose(_run(model, {"data": blob}), ref, atol=2e-5 * float(np.abs(ref).max()))


def test_shipped_int8_sface_keeps_the_first_layers_float_and_has_no_head_batchnorm(models_dir: Path) -> None:
    model = onnx.load(str(models_dir / "sface_int8.onnx"))
    producer = {o: n for n in model.graph.node for o in n.output}
    by_name = {n.name: n for n in model.graph.node}
    for name in FLOAT_PREFIX:
        node = by_name[name]  # KeyError names a node the recipe expected
        fed = [producer[i].op_type for i in node.input if i in producer]
        assert "DequantizeLinear" not in fed, f"{name} runs on dequantised (int8) input"
    conv3 = by_name["conv_2_conv2d"]
    assert producer[conv3.input[1]].op_type == "DequantizeLinear"  # the rest is int8
    assert not [n.name for n in model.graph.node if n.op_type in ("BatchNormalization", "Dropout")]
