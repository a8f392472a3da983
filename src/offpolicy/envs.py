"""Gymnasium environments: creation, space checks with clear errors, action rescaling, per-episode seeds."""

from __future__ import annotations

import functools
import importlib
import os
import re
from collections.abc import Callable
from typing import Any, NamedTuple

import gymnasium as gym
import jax.numpy as jnp
import numpy as np

from offpolicy import registry
from offpolicy.agents.base import EnvSpec
from offpolicy.config import MODULE_NAME
from offpolicy.errors import EnvError

# pygame renders rgb_array frames off-screen: no audio device, no display, no XDG warnings on headless machines.
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")


def import_env_module(module: str) -> None:
    """Import the module a user named on the command line (``--env-module``) or in Python, so that it registers its
    envs. Only for names a person typed: env ids and modules read from files are never imported (docs/reliability.md)."""
    if not re.fullmatch(MODULE_NAME, module):
        raise EnvError(f"env module {module!r}: not a module name (e.g. mypkg or mypkg.envs).")
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise EnvError(f"env module {module!r} cannot be imported ({exc}); install it or add its folder to "
                       "PYTHONPATH.") from None


def split_typed_env(env_id: str, env_module: str | None = None) -> tuple[str, str | None]:
    """A user-typed ``module:EnvId`` (``--env``, or ``DDPG("module:EnvId")``) as (``EnvId``, module); a plain id as
    (``env_id``, ``env_module``). Imports nothing: the caller imports the module (:func:`import_env_module`)."""
    if ":" not in env_id:
        return env_id, env_module
    module, env_id = env_id.split(":", 1)
    if env_module is not None and env_module != module:
        raise EnvError(f"the env id names module {module!r} and env_module names {env_module!r}; give one.")
    return env_id, module


def check_registered(env_id: str, env_module: str | None) -> None:
    """A clear error when ``env_id`` is not registered but its run recorded the module that registers it: that
    module is never imported from a file, so the user imports it (``--env-module`` / ``import``)."""
    if env_module is None or ":" in env_id:
        return
    try:
        gym.spec(env_id)
    except gym.error.Error:
        raise EnvError(f"env {env_id!r} is not registered; this run's env comes from module {env_module!r}, which "
                       f"offpolicy does not import from a file: pass `--env-module {env_module}` (command line) or "
                       f"`import {env_module}` first (Python).") from None


def make_env(env_id: str, algo: str, env_kwargs: dict[str, Any] | None = None,
             render_mode: str | None = None) -> tuple[gym.Env, EnvSpec]:
    """Create ``env_id``, check its spaces for ``algo`` and return (env, spec).

    Continuous-action envs are wrapped in ``RescaleAction`` so the agent acts in [-1, 1].
    """
    try:
        kwargs = dict(env_kwargs or {})
        if render_mode is not None:  # only when asked: not every env accepts a render_mode argument
            kwargs["render_mode"] = render_mode
        env = gym.make(env_id, **kwargs)
    except (gym.error.DependencyNotInstalled, ImportError) as exc:  # ImportError: a third-party env's own import
        if _is_missing_mujoco(exc):
            raise EnvError(f"{env_id} needs MuJoCo, which is not installed: {MUJOCO_INSTALL}") from None
        if _is_missing_box2d(exc):
            raise EnvError(f"{env_id} needs Box2D, which is not installed: {BOX2D_INSTALL}") from None
        if isinstance(exc, ImportError):
            raise
        raise EnvError(f"cannot make environment {env_id!r}: {exc}") from None
    except gym.error.Error as exc:  # NameNotFound / VersionNotFound / NamespaceNotFound / DeprecatedEnv ...
        raise EnvError(f"cannot make environment {env_id!r}: {exc}") from None
    except TypeError as exc:
        raise EnvError(f"cannot make environment {env_id!r} with env_kwargs={env_kwargs}: {exc}") from None
    try:
        spec = check_spaces(env, env_id, algo)
    except EnvError:
        env.close()
        raise
    if not spec.discrete:
        ones = np.ones(spec.action_dim, np.float32)
        env = gym.wrappers.RescaleAction(env, min_action=-ones, max_action=ones)
    return env, spec


MUJOCO_INSTALL = 'pip install "offpolicy[mujoco]"'
"""The install command named when a MuJoCo env is made without the ``mujoco`` package."""


BOX2D_INSTALL = 'pip install "offpolicy[box2d]"'
"""The install command named when a Box2D env (LunarLander, BipedalWalker, CarRacing) is made without ``Box2D``."""


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and its causes."""
    chain: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and link not in chain:
        chain.append(link)
        link = link.__cause__ or link.__context__
    return chain


def _is_missing_box2d(exc: BaseException) -> bool:
    """Whether a failed ``gym.make`` lacks the ``Box2D`` package: an ImportError of ``Box2D`` in the exception's
    chain, or Gymnasium's DependencyNotInstalled naming Box2D (its box2d envs: "Box2D is not installed, ...", whose
    own advice, ``gymnasium[box2d]``, builds box2d-py from source with swig; the extra installs a wheel)."""
    return any((isinstance(e, ImportError) and (e.name or "").split(".")[0] == "Box2D")
               or (isinstance(e, gym.error.DependencyNotInstalled) and "box2d" in str(e).lower())
               for e in _chain(exc))


def _is_missing_mujoco(exc: BaseException) -> bool:
    """Whether a failed ``gym.make`` lacks the ``mujoco`` package: an ImportError of ``mujoco`` in the exception's
    chain, or Gymnasium's DependencyNotInstalled naming MuJoCo (its MuJoCo envs: "MuJoCo is not installed, ..."),
    but not the old ``mujoco-py`` bindings, which the extra does not provide."""
    for e in _chain(exc):
        if isinstance(e, ImportError) and e.name is not None:
            if e.name.split(".")[0] == "mujoco":
                return True
        elif isinstance(e, gym.error.DependencyNotInstalled):
            message = str(e).lower()
            if "mujoco" in message and "mujoco-py" not in message and "mujoco_py" not in message:
                return True
    return False


def check_spaces(env: gym.Env, env_id: str, algo: str) -> EnvSpec:
    """EnvSpec of ``env`` for ``algo``, or an EnvError naming the problem and the fix."""
    obs_space, action_space = env.observation_space, env.action_space
    if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
        raise EnvError(
            f"{env_id}: observation space {obs_space} is not a flat Box; offpolicy's MLP agents need a 1-D vector. "
            "Wrap the env with gymnasium.wrappers.FlattenObservation (dict/tuple spaces) or pick a vector-observation env."
        )
    kind = registry.get(algo).action_kind
    if kind == "continuous":
        if isinstance(action_space, gym.spaces.Discrete):
            raise EnvError(
                f"{env_id} has a discrete action space ({action_space}); {algo.upper()} needs a continuous Box. "
                f"Use a continuous env (e.g. Pendulum-v1, MountainCarContinuous-v0), or {_other('discrete')}."
            )
        if not isinstance(action_space, gym.spaces.Box) or len(action_space.shape) != 1:
            raise EnvError(f"{env_id}: action space {action_space} is not a 1-D Box; {algo.upper()} needs one.")
        if not (np.all(np.isfinite(action_space.low)) and np.all(np.isfinite(action_space.high))):
            raise EnvError(
                f"{env_id}: action bounds are unbounded (low={action_space.low}, high={action_space.high}); "
                f"{algo.upper()} squashes actions into the bounds. Wrap the env with gymnasium.wrappers.ClipAction "
                "after giving it finite bounds, or pick an env with a bounded action space."
            )
        if not np.all(action_space.high > action_space.low):
            flat = np.flatnonzero(~(np.asarray(action_space.high) > np.asarray(action_space.low)))
            raise EnvError(
                f"{env_id}: action bounds need low < high in every dimension; dimension {int(flat[0])} has low="
                f"{action_space.low[flat[0]]} and high={action_space.high[flat[0]]} (an action of zero width: the "
                "agent's actions would be NaN). Fix the env's action space, or drop that dimension with a "
                "gymnasium.ActionWrapper."
            )
        return EnvSpec(obs_shape=tuple(obs_space.shape), action_dim=int(action_space.shape[0]))
    if kind == "discrete":
        if not isinstance(action_space, gym.spaces.Discrete):
            raise EnvError(
                f"{env_id} has action space {action_space}; {algo.upper()} needs a discrete action space "
                "(gymnasium.spaces.Discrete). Use a discrete-action env (e.g. CartPole-v1, Acrobot-v1, MountainCar-v0), "
                f"or {_other('continuous')}."
            )
        if int(action_space.start) != 0:
            raise EnvError(f"{env_id}: Discrete action space starts at {action_space.start}; {algo.upper()} needs "
                           "actions 0..n-1. Wrap the env in a gymnasium.ActionWrapper that adds the offset.")
        return EnvSpec(obs_shape=tuple(obs_space.shape), action_dim=1, n_actions=int(action_space.n))
    raise EnvError(f"unknown algorithm {algo!r}")  # pragma: no cover - config validation rejects it first


def _other(kind: str) -> str:
    """``DQN for discrete actions (--algo dqn, e.g. `offpolicy train noisy-dqn-cartpole`)``, from the registry."""
    what = "discrete actions" if kind == "discrete" else "continuous (Box) actions"
    algos = registry.of_kind(kind)
    names = " or ".join(a.name.upper() for a in algos)
    examples = ", ".join(f"--algo {a.name}, e.g. `offpolicy train {a.default_preset}`" for a in algos)
    return f"{names} for {what} ({examples})"


def env_action_space(env: gym.Env) -> gym.Space:
    """The env's own action space: under make_env's RescaleAction, the space it rescales to."""
    return env.env.action_space if isinstance(env, gym.wrappers.RescaleAction) else env.action_space


def to_env_action(action: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """An agent's action in [-1, 1] as the env's own action in [low, high]: the same map as the RescaleAction
    wrapper that training and evaluation step the env through (gymnasium's rescale_box), clipped to the bounds."""
    from gymnasium.wrappers.utils import rescale_box

    low, high = np.asarray(low, np.float32), np.asarray(high, np.float32)
    ones = np.ones(low.shape, np.float32)
    _, _, to_env = rescale_box(gym.spaces.Box(low, high, dtype=np.float32), -ones, ones)
    return np.clip(to_env(np.asarray(action, np.float32)), low, high)


class EpisodeSeeds:
    """Deterministic stream of per-episode reset seeds derived from the master seed.

    Each stream draws from its own range, so no two streams ever share a seed: training from [0, 2**31), the
    periodic evaluations from [2**31, 2**31 + 2**30) (each evaluation takes the next seeds of the stream), and the
    final evaluation (eval.json, ``evaluate()`` of a model or Policy, ``offpolicy eval``) and the video from
    [2**31 + 2**30, 2**32), so the reported final policy is scored on episodes no periodic evaluation (and so no
    choice of ``checkpoints/best``) has seen.
    """

    TRAIN, EVAL, VIDEO, FINAL = 0, 1, 2, 3
    _RANGES = {TRAIN: (0, 2**31), EVAL: (2**31, 2**30), VIDEO: (2**31 + 2**30, 2**30),
               FINAL: (2**31 + 2**30, 2**30)}  # stream -> (offset, size)

    def __init__(self, seed: int, stream: int):
        self._rng = np.random.default_rng([seed, stream])
        self._offset, self._size = self._RANGES[stream]

    def next(self) -> int:
        return int(self._offset + self._rng.integers(0, self._size))

    def take(self, n: int) -> list[int]:
        return [self.next() for _ in range(n)]

    def get_state(self) -> dict:
        """JSON-safe position of the stream (for exact resume)."""
        return self._rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self._rng.bit_generator.state = state


# -- JAX (gymnax) versions of the classic-control envs, for the compiled loop -----------------------------------------
GYMNAX_ENVS = ("Pendulum-v1", "CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0")


class JaxEnv(NamedTuple):
    """A pure, jittable env. Actions are the agent's: in [-1, 1]^action_dim (continuous) or an int (discrete).

    reset(key) -> (obs, state)
    step(key, state, action) -> (policy_obs, state, reward, terminated, truncated, final_obs)
        ``final_obs`` is the observation the action led to (the transition's next_obs); ``policy_obs`` is the same
        unless the episode ended, in which case it is the first observation of the next episode (auto-reset).
    """

    env_id: str
    reset: Callable[[Any], tuple[Any, Any]]
    step: Callable[[Any, Any, Any], tuple[Any, Any, Any, Any, Any, Any]]
    max_episode_steps: int


def make_jax_env(env_id: str, algo: str, env_kwargs: dict[str, Any] | None = None) -> tuple[JaxEnv, EnvSpec]:
    """The gymnax version of ``env_id`` with the same spaces, episode limit and action rescaling as ``make_env``."""
    if env_id not in GYMNAX_ENVS:
        raise EnvError(f"loop=compiled needs a JAX version of the env; {env_id!r} has none here (available: "
                       f"{', '.join(GYMNAX_ENVS)}). Use loop=host (the default) to train on any Gymnasium env.")
    if env_kwargs:
        raise EnvError(f"loop=compiled runs the gymnax version of {env_id} with its default parameters; "
                       f"env_kwargs={env_kwargs} cannot be passed to it. Drop env_kwargs or use loop=host.")
    return _jax_env(env_id, algo)


@functools.lru_cache(maxsize=16)  # one JaxEnv per env and algo: the compiled loop's programs are kept per env
def _jax_env(env_id: str, algo: str) -> tuple[JaxEnv, EnvSpec]:
    import gymnax

    genv, params = gymnax.make(env_id)
    reference, spec = make_env(env_id, algo)  # the Gymnasium env: same checks, and the spaces to compare with
    limit = reference.spec.max_episode_steps if reference.spec is not None else None
    reference.close()
    if limit != params.max_steps_in_episode:
        raise EnvError(f"{env_id}: the gymnax episode limit ({params.max_steps_in_episode}) differs from "
                       f"Gymnasium's ({limit}); loop=compiled cannot stand in for it.")
    if spec.discrete:
        def to_env(action):
            return action
    else:
        space = genv.action_space(params)
        low = jnp.asarray(space.low, jnp.float32) * jnp.ones(spec.action_dim, jnp.float32)
        high = jnp.asarray(space.high, jnp.float32) * jnp.ones(spec.action_dim, jnp.float32)

        # In JAX, inside the scan: the affine map of to_env_action written as low + (a + 1)(high - low)/2 (equal up
        # to rounding; kept as it is so compiled runs stay bit-identical to earlier versions).
        def to_env(action):
            return low + (action + 1.0) * 0.5 * (high - low)

    def reset(key):
        obs, state = genv.reset(key, params)
        return obs.astype(jnp.float32), state

    def step(key, state, action):
        obs, state, reward, terminated, truncated, info = genv.step(key, state, to_env(action), params)
        return (obs.astype(jnp.float32), state, jnp.asarray(reward, jnp.float32), jnp.asarray(terminated, bool),
                jnp.asarray(truncated, bool), info["final_observation"].astype(jnp.float32))

    return JaxEnv(env_id, reset, step, int(params.max_steps_in_episode)), spec
