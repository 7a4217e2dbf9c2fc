"""The errors hebbformer raises for bad input. The CLI prints their message, never a traceback."""


class HebbformerError(Exception):
    """Base class: the message alone tells the user what is wrong and what to do."""


class ConfigError(HebbformerError, ValueError):
    """A config value, key or file is wrong; the message names it."""


class DataError(HebbformerError):
    """A data file is missing, corrupt or not in the expected format; the message names it."""


class CheckpointError(HebbformerError):
    """A checkpoint is missing, unreadable or does not belong to this run."""


class TrainingError(HebbformerError):
    """Training cannot go on (a loss or gradient that is not finite); the last good checkpoint is kept."""


class RunInUseError(HebbformerError):
    """Another process holds the run folder."""
