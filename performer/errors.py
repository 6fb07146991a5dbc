"""Exceptions with messages a performer can act on: what was found, what is valid, what to do."""


class PerformerError(Exception):
    """Base class of every error Performer raises on bad input."""


class ModelLoadError(PerformerError):
    """A model file is missing, is not a TorchScript export, or lacks the nn~ interface."""


class ChannelMismatchError(PerformerError):
    """Audio and model channel counts cannot be matched."""


class AudioFileError(PerformerError):
    """An audio file is missing, unreadable, empty or of an unsupported format."""


class AddressError(PerformerError, KeyError):
    """An address names nothing in the rig. The message lists what is valid."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ValueRangeError(PerformerError, ValueError):
    """A value is out of range or of the wrong type for its address."""


class TrainingError(PerformerError):
    """A training run cannot start or resume: a damaged checkpoint, a mismatched run folder."""
