"""A trained agent's noise-free policy, loaded from a checkpoint without a trainer: no env, loop or replay buffer.

    from offpolicy.policy import Policy
    pi = Policy.load("runs/ddpg-pendulum_s0_.../")        # a run directory (its checkpoints/final) or a checkpoint
    action = pi.predict(obs)                              # in the env's own bounds; obs may be a batch [B, *obs_shape]

``offpolicy eval``, ``Model.load(...).predict`` and the test-episode video use it; exporters build on it
(``pi.export("policy.npz")``: a file that NumPy alone, or any ONNX runtime, can act with; see docs/export.md).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from offpolicy.agents import Agent, make_agent
from offpolicy.config import RunConfig
from offpolicy.envs import to_env_action
from offpolicy.errors import CheckpointError, OffpolicyError
from offpolicy.run import checkpoint


def checkpoint_dir(path: str | Path, name: str = "final") -> Path:
    """A checkpoint directory: ``path`` itself, or a run directory's ``checkpoints/<name>``."""
    path = Path(path)
    if (path / checkpoint.META_FILE).is_file():
        return path
    if (path / "checkpoints").is_dir():
        candidate = path / "checkpoints" / name
        if not candidate.is_dir():
            have = sorted(p.name for p in (path / "checkpoints").iterdir())
            raise CheckpointError(f"{candidate} not found; this run has checkpoints {have}.")
        return candidate
    if not path.exists():
        raise CheckpointError(f"{path} not found: not a checkpoint directory or a run directory made by "
                              "`offpolicy train`.")
    raise CheckpointError(f"{path}: not a checkpoint directory (expected {checkpoint.META_FILE} and "
                          f"{checkpoint.ARRAYS_FILE} inside); is it a run directory made by `offpolicy train`?")


@functools.lru_cache(maxsize=32)  # one per agent (make_agent gives the same agent for the same config)
def noise_free_act(agent: Agent):
    """Jitted noise-free policy: (agent_state, obs[B, ...]) -> action[B, ...] in the agent's action space."""
    key = jax.random.key(0)  # unused when explore=False

    @jax.jit
    def act(state, obs):
        return agent.act(state, obs, key, explore=False)[0]

    return act


class Policy:
    """The noise-free policy of one agent state. ``act`` gives actions in the agent's space ([-1, 1] or an index),
    ``predict`` in the env's own bounds (continuous) or as action indices (discrete)."""

    def __init__(self, agent: Agent, agent_state: Any, config: RunConfig,
                 action_bounds: tuple[np.ndarray, np.ndarray] | None = None, act_fn: Any = None):
        """``act_fn``: an already jitted ``(agent_state, obs) -> action`` of ``agent`` to reuse (a trainer's)."""
        self.agent, self.agent_state, self.config = agent, agent_state, config
        self.spec = agent.spec
        if not self.spec.discrete and action_bounds is None:
            raise OffpolicyError("a continuous policy needs the env's action bounds (low, high).")
        self.action_bounds = action_bounds
        self._act = act_fn if act_fn is not None else noise_free_act(agent)

    @classmethod
    def load(cls, path: str | Path, checkpoint_name: str = "final") -> Policy:
        """A policy checkpoint directory, or a run directory's ``checkpoints/<checkpoint_name>`` (final, best, ...)."""
        path = checkpoint_dir(path, checkpoint_name)
        meta, config, spec = checkpoint.read_meta(path)
        agent = make_agent(config.algo, config.agent, spec)
        # the state's shapes and dtypes (no compilation, no random numbers drawn) tell restore what to expect
        state = checkpoint.restore(path, jax.eval_shape(functools.partial(agent.init, n_envs=1), jax.random.key(0)))
        bounds = None
        if not spec.discrete:
            saved = meta.get("action_bounds")
            if saved is not None:
                bounds = _bounds(saved, spec.action_dim, path)
            else:  # a checkpoint written before bounds were saved: read them from the env's action space
                from offpolicy.envs import check_registered, env_action_space, make_env

                check_registered(config.env, config.env_module)
                env, _ = make_env(config.env, config.algo, config.env_kwargs)
                space = env_action_space(env)
                bounds = (space.low, space.high)
                env.close()
        policy = cls(agent, state, config, bounds)
        policy.path, policy.meta = path, meta
        return policy

    def as_batch(self, obs: Any) -> tuple[np.ndarray, bool]:
        """``obs`` as a batch ``[B, *obs_shape]``, and whether it was one observation (refused when neither)."""
        obs = np.asarray(obs, np.float32)
        shape = tuple(self.spec.obs_shape)
        single = obs.shape == shape
        if not single and obs.shape[1:] != shape:
            raise ValueError(f"obs has shape {obs.shape}; expected {shape} or [B, *{shape}].")
        return (obs[None] if single else obs), single

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Actions for a batch ``[B, *obs_shape]`` in the agent's own space."""
        return np.asarray(self._act(self.agent_state, jnp.asarray(obs, jnp.float32)))

    def to_env(self, action: np.ndarray) -> np.ndarray:
        """Agent-space actions as the env takes them."""
        if self.spec.discrete:
            return np.asarray(action).astype(np.int64)
        return to_env_action(action, *self.action_bounds)

    def predict(self, obs: np.ndarray) -> np.ndarray:
        """The action for one observation (``obs_shape``) or a batch (``[B, *obs_shape]``), in the env's own space."""
        batch, single = self.as_batch(obs)
        action = self.to_env(self.act(batch))
        return action[0] if single else action

    __call__ = predict

    def export(self, path: str | Path, format: str | None = None, force: bool = False) -> Path:  # noqa: A002
        """Write this noise-free policy to one file: ``format="numpy"`` (an ``.npz`` that
        ``offpolicy.export.NumpyPolicy`` runs with NumPy alone) or ``"onnx"`` (needs ``offpolicy[onnx]``); None picks
        it from the suffix (.onnx: onnx, else numpy). An existing file is replaced only with ``force``."""
        from offpolicy.export.writer import export_policy

        return export_policy(self, path, format, force)

    def evaluate(self, episodes: int = 10) -> dict:
        """Noise-free episodes on a fresh env with the run's final-evaluation seeds (the first ``episodes`` of them:
        10 reproduce the run's eval.json)."""
        evaluator = self._evaluator(episodes)
        try:
            return evaluator.evaluate(self.agent_state)
        finally:
            evaluator.close()

    def record_video(self, path: str | Path) -> tuple[float, int]:
        """One noise-free episode (the run's video seed) to an MP4; (return, length)."""
        evaluator = self._evaluator(1)
        try:
            return evaluator.record_video(self.agent_state, Path(path))
        finally:
            evaluator.close()

    def _evaluator(self, episodes: int):
        from offpolicy.envs import check_registered
        from offpolicy.run.evaluate import Evaluator

        cfg = self.config
        check_registered(cfg.env, cfg.env_module)
        return Evaluator(cfg.env, cfg.algo, cfg.env_kwargs, cfg.seed, episodes, self._act, cfg.eval_max_steps)


def _bounds(saved: Any, dim: int, path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        low = np.asarray(saved["low"], np.float32)
        high = np.asarray(saved["high"], np.float32)
    except (TypeError, KeyError, ValueError):
        raise CheckpointError(f"{path}: malformed action_bounds in {checkpoint.META_FILE}.") from None
    if low.shape != (dim,) or high.shape != (dim,) or not (np.all(np.isfinite(low)) and np.all(low <= high)):
        raise CheckpointError(f"{path}: action_bounds in {checkpoint.META_FILE} do not fit a {dim}-D action space.")
    return low, high
