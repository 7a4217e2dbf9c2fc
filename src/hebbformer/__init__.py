"""hebbformer: transformers that learn in context through synaptic plasticity."""

from .config import Config, load_config
from .errors import CheckpointError, ConfigError, DataError, HebbformerError
from .predict import load

__version__ = "0.1.0"
__all__ = ["Config", "load", "load_config", "ConfigError", "DataError", "CheckpointError", "HebbformerError"]
