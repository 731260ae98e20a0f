"""Sputnik Edge: face-recognition attendance daemon for a door camera."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sputnik-edge")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"

APP_NAME = "sputnik-edge"
