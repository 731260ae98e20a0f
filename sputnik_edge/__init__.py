"""Sputnik Edge: face-recognition attendance daemon for a door camera."""

import os
from importlib.metadata import PackageNotFoundError, version

# onnxruntime already uses every core for convolutions; a BLAS pool competing with it turns a
# 0.3 ms gallery search into 15 ms on a 2-core device. Set before numpy is first imported;
# an operator's own setting wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

try:
    __version__ = version("sputnik-edge")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"

APP_NAME = "sputnik-edge"
