"""offpolicy: off-policy deep RL (DDPG, NoisyNet-DQN) in pure JAX, for any Gymnasium env."""

from offpolicy._version import __version__
from offpolicy.api import MODEL_CLASSES
from offpolicy.config import RunConfig, make_config, preset_names
from offpolicy.errors import CheckpointError, ConfigError, EnvError, NonFiniteError, OffpolicyError
from offpolicy.policy import Policy

globals().update(MODEL_CLASSES)  # one class per registered algorithm: DDPG, DQN, ...
__all__ = [*MODEL_CLASSES, "Policy", "RunConfig", "make_config", "preset_names", "OffpolicyError", "ConfigError",
           "EnvError", "CheckpointError", "NonFiniteError", "__version__"]
