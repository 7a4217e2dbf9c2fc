"""hebbformer: transformers that learn in context through synaptic plasticity."""

import importlib

__version__ = "0.1.0"
__all__ = ["Config", "load", "load_config", "ConfigError", "DataError", "CheckpointError", "HebbformerError"]

# Where each name of the public API lives. Imported on first use: every module of the package
# runs this file first, and must not pull in the layers above it (tests/test_layering.py).
_API = {"Config": "config", "load_config": "config", "load": "predict", "ConfigError": "errors",
        "DataError": "errors", "CheckpointError": "errors", "HebbformerError": "errors"}


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'hebbformer' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_API[name]}", __name__), name)


def __dir__():
    return sorted([*globals(), *_API])
