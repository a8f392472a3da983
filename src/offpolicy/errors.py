"""Errors a user can act on. The CLI prints their message alone (no traceback) and exits with status 2."""


class OffpolicyError(Exception):
    """Base class: the message names the problem and the fix."""


class ConfigError(OffpolicyError, ValueError):
    """A preset, YAML file or --set override is invalid."""


class EnvError(OffpolicyError, ValueError):
    """The environment cannot be used by the chosen algorithm."""


class CheckpointError(OffpolicyError, ValueError):
    """A checkpoint or run directory is missing, corrupt, or does not match the config."""


class NonFiniteError(OffpolicyError):
    """An observation, reward, loss or parameter became NaN or inf (``step``, ``episode`` and ``quantity`` say where)."""

    def __init__(self, message: str, step: int, episode: int, quantity: str):
        super().__init__(message)
        self.step, self.episode, self.quantity = step, episode, quantity


class ExportFormatError(OffpolicyError, ValueError):
    """An exported policy file (``offpolicy export``) is unreadable, tampered with, or of an unknown format version."""


class Terminated(KeyboardInterrupt):
    """SIGTERM during training: handled like Ctrl-C (``checkpoints/interrupted`` is saved); the CLI exits with 143."""
