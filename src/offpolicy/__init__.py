"""offpolicy: off-policy deep RL (DDPG, NoisyNet-DQN) in pure JAX, for any Gymnasium env."""

from offpolicy._version import __version__
from offpolicy.api import DDPG, DQN
from offpolicy.config import RunConfig, make_config, preset_names
from offpolicy.errors import CheckpointError, ConfigError, EnvError, OffpolicyError

__all__ = ["DDPG", "DQN", "RunConfig", "make_config", "preset_names", "OffpolicyError", "ConfigError", "EnvError",
           "CheckpointError", "__version__"]
