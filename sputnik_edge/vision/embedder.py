"""SFace face embedder on onnxruntime: aligned 112x112 BGR crops -> L2-normalised 128-d vectors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import structlog

from sputnik_edge.vision.align import AnyImage
from sputnik_edge.vision.models import ModelError, ModelSpec, file_sha256, load_manifest, template_model_id
from sputnik_edge.vision.onnx import create_session
from sputnik_edge.vision.types import FloatArray, ModelInfo

log = structlog.get_logger(__name__)


class SFaceEmbedder:
    """Wraps the SFace graph, which does its own (x - 127.5) / 128 normalisation.

    Input preprocessing is OpenCV FaceRecognizerSF.feature's ``blobFromImage(img, 1, (112, 112),
    0, swapRB=True)``: RGB channel order, raw 0..255 values as float32, NCHW.
    """

    def __init__(
        self,
        model_path: Path,
        threads: int = 0,
        model_id: str | None = None,
        *,
        spin_within_run: bool = False,
    ) -> None:
        self.model_path = Path(model_path)
        self._session = create_session(self.model_path, threads, spin_within_run=spin_within_run)
        inp = self._session.get_inputs()[0]
        self._input_name = inp.name
        self._output_name = self._session.get_outputs()[0].name
        batch, channels, height, width = inp.shape
        if channels != 3:
            raise ValueError(f"{self.model_path}: expected a 3-channel image input, got shape {inp.shape}")
        self.input_hw = (
            height if isinstance(height, int) else 112,
            width if isinstance(width, int) else 112,
        )
        # The unprepared file pins batch 1; then a batch is run one crop at a time.
        self._dynamic_batch = not (isinstance(batch, int) and batch == 1)
        dim = self._session.get_outputs()[0].shape[-1]
        self.dim = dim if isinstance(dim, int) else 128
        self._sha256 = file_sha256(self.model_path)
        spec = self._manifest_spec()
        # Templates are keyed by the embedding space, which an int8 variant shares with its float
        # model; the file's own id is reported beside it.
        self._model_id = model_id or (template_model_id(spec) if spec else self.model_path.stem)
        self._variant = spec.model_id if spec else self._model_id
        self.embed(np.zeros((1, *self.input_hw, 3), dtype=np.uint8))
        log.info(
            "embedder_ready",
            model=self.model_path.name,
            model_id=self._model_id,
            variant=self._variant,
            dynamic_batch=self._dynamic_batch,
        )

    def _manifest_spec(self) -> ModelSpec | None:
        try:
            specs = load_manifest(self.model_path.parent)
        except ModelError:
            return None
        for spec in specs.values():
            if spec.file == self.model_path.name and spec.sha256 == self._sha256:
                return spec
        return None

    @property
    def model_info(self) -> ModelInfo:
        return ModelInfo(
            model_id=self._model_id,
            file=self.model_path.name,
            sha256=self._sha256,
            extra={
                "dim": str(self.dim),
                "input": f"{self.input_hw[1]}x{self.input_hw[0]}",
                "variant": self._variant,
            },
        )

    def _stack(self, crops: Sequence[AnyImage] | AnyImage) -> npt.NDArray[np.uint8]:
        h, w = self.input_hw
        if isinstance(crops, np.ndarray):
            batch = crops[None] if crops.ndim == 3 else crops
        else:
            batch = np.stack(crops) if len(crops) else np.empty((0, h, w, 3), dtype=np.uint8)
        if batch.ndim != 4 or batch.shape[1:] != (h, w, 3):
            raise ValueError(f"crops must be aligned ({h}, {w}, 3) BGR images, got batch shape {batch.shape}")
        if batch.dtype != np.uint8:
            raise ValueError(f"crops must be uint8, got {batch.dtype}")
        return batch

    def embed(self, crops: Sequence[AnyImage] | AnyImage) -> FloatArray:
        """(N, dim) float32 unit vectors for N aligned crops; N = 0 gives shape (0, dim)."""
        batch = self._stack(crops)
        n = batch.shape[0]
        if n == 0:
            return np.empty((0, self.dim), dtype=np.float32)

        # Preprocess: BGR -> RGB and NHWC -> NCHW in one strided copy into a float32 buffer.
        blob = np.empty((n, 3, *self.input_hw), dtype=np.float32)
        np.copyto(blob, batch[..., ::-1].transpose(0, 3, 1, 2), casting="unsafe")

        # Forward
        if self._dynamic_batch or n == 1:
            out = self._session.run([self._output_name], {self._input_name: blob})[0]
        else:
            run = self._session.run
            out = np.concatenate(
                [run([self._output_name], {self._input_name: blob[i : i + 1]})[0] for i in range(n)]
            )

        # Postprocess
        feats = np.asarray(out, dtype=np.float32).reshape(n, -1)
        norms = np.linalg.norm(feats, axis=1, keepdims=True)
        if np.any(norms == 0) or not np.all(np.isfinite(norms)):
            raise ValueError("embedder produced a zero or non-finite vector")
        feats /= norms
        return feats
