"""offpolicy: off-policy deep RL (DDPG, NoisyNet-DQN) in pure JAX, for any Gymnasium env."""

__version__ = "0.1.0"

from offpolicy.api import MODEL_CLASSES  # noqa: E402
from offpolicy.config import RunConfig, make_config, preset_names  # noqa: E402
from offpolicy.errors import CheckpointError, ConfigError, EnvError, OffpolicyError  # noqa: E402
from offpolicy.policy import Policy  # noqa: E402

globals().update(MODEL_CLASSES)  # one class per registered algorithm: DDPG, DQN, ...
__all__ = [*MODEL_CLASSES, "Policy", "RunConfig", "make_config", "preset_names", "OffpolicyError", "ConfigError",
           "EnvError", "CheckpointError", "__version__"]
