"""Python API in the shape of Stable-Baselines3's.

    from offpolicy import DDPG
    model = DDPG("Pendulum-v1", seed=0, actor_lr=1e-3)    # any config key as a keyword (suffixes work: sigma=0.2)
    model.learn(50_000, run_dir="runs/my-run")             # run_dir optional: without it nothing is written
    action, _ = model.predict(obs, deterministic=True)     # (action, None), action in the env's own bounds
    model.evaluate(n_eval_episodes=10)                      # {"mean": ..., "std": ..., "returns": [...], ...}
    model.save("ddpg-pendulum", include_buffer=True); model = DDPG.load("ddpg-pendulum").learn(10_000)  # continues
    model.export("policy.npz")                              # or "policy.onnx": run it without JAX (docs/export.md)

    DDPG(gym.make("Pendulum-v1")); DDPG(lambda: MyEnv()); DDPG("MlpPolicy", "Pendulum-v1", verbose=0)  # as in SB3
    model.learn(50_000, callback=MyCallback())              # offpolicy.Callback: on_step / on_episode / on_eval

    # in a Jupyter notebook:
    model.learn(50_000, live=True)     # score and loss curves redrawn in place (every 2-15 s); a progress bar elsewhere
    model.show_video()                  # one noise-free episode as an inline HTML5 video (show_video("ep.mp4") keeps it)

    from offpolicy import DQN
    model = DQN("CartPole-v1", seed=0).learn(50_000)        # NoisyNet-DQN; DQN(..., exploration="epsilon") for e-greedy

What stays offpolicy's own, and SB3's spelling of it: README.md, "Coming from SB3".
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from offpolicy import registry
from offpolicy.callbacks import Callback
from offpolicy.config import RunConfig, make_config
from offpolicy.envs import import_env_module, split_typed_env
from offpolicy.errors import CheckpointError, ConfigError, EnvError, OffpolicyError
from offpolicy.policy import Policy, checkpoint_dir
from offpolicy.run import checkpoint
from offpolicy.run.trainer import Trainer, new_run_dir

TRAINING_DIR = "training"
"""Inside a model saved with ``include_buffer=True``: the training checkpoint (agent, replay buffer, keys, counters)."""
PYTHON_ENVS = "offpolicy-python"
"""Gymnasium namespace of the envs given to a model as objects or functions (registered for this process only)."""
SB3_POLICIES = ("MlpPolicy", "CnnPolicy", "MultiInputPolicy")
_UNSET: Any = object()  # a keyword the caller did not give

class OffPolicyModel:
    """Shared model shell; each registered algorithm gets a subclass (``offpolicy.DDPG``, ...) with its ``algo``.

    ``env``: a registered env id (``"Pendulum-v1"``, or ``"mypkg:MyEnv-v0"`` to import mypkg first), a
    ``gymnasium.Env``, or a function that returns a new ``gymnasium.Env`` each call. offpolicy makes several envs
    (training, evaluation, video), so an Env object is a template: one made by ``gymnasium.make`` (no wrapper added
    after) is made again from its id and kwargs; any other is copied (``copy.deepcopy``) for each env. Objects and
    functions are registered as ``offpolicy-python/<Name>-v<N>`` for this process: a saved model records that id, so
    ``load`` needs the env again (``DDPG.load(path, env=...)``) before it can train or evaluate (predicting needs
    none). Vector envs are refused: offpolicy makes and steps its own envs (``n_envs=K``: K per seed).

    Without ``preset`` or ``config`` a model starts from its algorithm's default preset (the registry's), with
    ``env`` replacing the preset's env when given. ``DDPG("MlpPolicy", env)`` (SB3's order) is accepted.
    ``verbose``: 0 is ``progress=False`` (nothing printed), 1 or 2 ``progress=True`` (progress bar and status
    lines; offpolicy prints no log tables). ``tensorboard_log=DIR``: every ``learn`` without ``run_dir`` writes a full
    run directory ``DIR/<tb_log_name or algo-env>_s<seed>_<time>/`` (TensorBoard events in its ``tb/``).
    ``policy_kwargs``: only ``net_arch`` (a list of layer sizes, or ``dict(pi=..., qf=...)`` with equal lists),
    which is ``hidden_sizes``."""

    algo: ClassVar[str]

    def __init__(self, env: Any = None, *args: Any, seed: Any = _UNSET, preset: str | None = None,
                 config: RunConfig | None = None, progress: bool | None = None, verbose: int | None = None,
                 tensorboard_log: str | Path | None = None, policy_kwargs: dict | None = None, **overrides: Any):
        if isinstance(env, str) and env in SB3_POLICIES:  # SB3's DDPG("MlpPolicy", env, ...)
            if env != "MlpPolicy":
                raise ConfigError(f"policy {env!r}: offpolicy's agents are MLPs on flat observation vectors "
                                  "(SB3's MlpPolicy); leave the policy out or give \"MlpPolicy\".")
            if not args:
                raise ConfigError("DDPG(\"MlpPolicy\", env): give the env after the policy (or the env alone).")
            env, *args = args
        if len(args) > 1 or (args and seed is not _UNSET):
            raise TypeError(f"{type(self).__name__}(env, seed): too many positional arguments; give the other "
                            "settings as keywords.")
        if seed is None:
            raise ConfigError("seed=None: offpolicy runs are always seeded (SB3 draws a random seed); give an int "
                              "(default 0).")
        seed = args[0] if args else 0 if seed is _UNSET else seed
        self.progress = _progress(progress, verbose)
        self.tensorboard_log = None if tensorboard_log is None else Path(tensorboard_log)
        if policy_kwargs is not None:
            overrides = {**overrides, **_policy_kwargs(policy_kwargs, overrides)}
        if config is None:
            values: dict[str, Any] = {"algo": self.algo, "seed": seed, **overrides}
            if env is not None:
                values.update(env_values(env, self.algo, overrides.get("env_module")))
            if values.get("env_module") is not None:
                import_env_module(values["env_module"])
            config = make_config(preset or registry.get(self.algo).default_preset, values)
        elif env is not None or overrides or policy_kwargs is not None:
            raise ConfigError("give either config=... or env / keyword settings, not both.")
        if config.algo != self.algo:
            raise ValueError(f"{type(self).__name__} cannot use a config for algo {config.algo!r}.")
        config.check()
        self.config = config
        self._init_state()
        self._trainer_ = Trainer(config, run_dir=None, progress=self.progress)  # validates the env at once

    def _init_state(self) -> None:
        self._trainer_: Trainer | None = None  # built when training or evaluation first needs it
        self._loaded: Policy | None = None  # a loaded checkpoint's policy, until a trainer takes its state over
        self._training_path: Path | None = None  # a loaded model's training checkpoint (saved with its buffer)
        self._empty_buffer_note: str | None = None  # the warning of a model loaded without its buffer, once
        self._policy: Policy | None = None
        self._explore: tuple[Any, Any] | None = None  # (agent, jitted exploring act) of predict(deterministic=False)
        self._predict_key = jax.random.key(self.config.seed + 1_000_003)
        self._live = None  # LivePlot of learn(live=True), kept so later calls continue its curves

    @property
    def _trainer(self) -> Trainer:
        if self._trainer_ is None:
            _check_python_env(self.config, self._loaded.path if self._loaded is not None else None, type(self))
            trainer = Trainer(self.config, run_dir=None, progress=self.progress)
            if self._loaded is not None:
                loaded = self._loaded
                if trainer.spec != loaded.spec:
                    raise CheckpointError(f"{loaded.path}: saved for env spec {loaded.spec}, but "
                                          f"{self.config.env} now has {trainer.spec}.")
                if self._training_path is not None:
                    meta, _, _ = checkpoint.read_meta(self._training_path, kind="training")
                    trainer.restore_training(self._training_path, meta)
                else:
                    counters = {k: int(loaded.meta.get("info", {}).get(k, 0)) for k in ("step", "episodes", "updates")}
                    trainer.set_state(loaded.agent_state, counters)
                    self._empty_buffer_note = (
                        f"{loaded.path} was saved without its replay buffer: learn continues from step "
                        f"{counters['step']:,} with the saved weights, optimizer and exploration state but an empty "
                        "buffer, so updates resume at once on the few transitions collected since (save with "
                        "include_buffer=True to continue exactly).")
                self._loaded = None
            self._trainer_ = trainer
        return self._trainer_

    def policy(self) -> Policy:
        """The current noise-free policy (a loaded checkpoint's, or the trainer's current agent state)."""
        if self._trainer_ is None and self._loaded is not None:
            return self._loaded
        trainer = self._trainer
        if self._policy is None:
            self._policy = Policy(trainer.agent, trainer.state, self.config, trainer.action_bounds, trainer.policy_fn)
        self._policy.agent_state = trainer.state
        return self._policy

    @classmethod
    def from_preset(cls, preset: str, **overrides: Any) -> OffPolicyModel:
        """Model from a built-in preset (e.g. ``ddpg-pendulum``) or a YAML path, with key overrides."""
        return cls(preset=preset, **overrides)

    # -- training -----------------------------------------------------------------------------------------------------
    @property
    def num_timesteps(self) -> int:
        """Env steps trained so far, over every ``learn`` call (and before a ``save``, for a loaded model)."""
        if self._trainer_ is None and self._loaded is not None:
            return int(self._loaded.meta.get("info", {}).get("step", 0))
        return self._trainer.step

    @property
    def run_dir(self) -> Path | None:
        return None if self._trainer_ is None else self._trainer_.run_dir

    def learn(self, total_timesteps: int | None = None, callback: Callback | list[Callback] | None = None,
              log_interval: int | None = None, tb_log_name: str | None = None,
              reset_num_timesteps: bool | None = None, progress_bar: bool | None = None, *,
              run_dir: str | Path | None = None, progress: bool | None = None, live: bool = False,
              total_steps: int | None = None) -> OffPolicyModel:
        """Train ``total_timesteps`` more env steps (default: the config's total_steps; ``total_steps=`` is the same).
        Calling again continues: step counter, replay buffer, exploration and schedules carry on (SB3's
        ``reset_num_timesteps=False``; ``True`` is refused once the model has trained, as offpolicy cannot rewind
        them: make a new model instead). With ``run_dir`` (or the model's ``tensorboard_log``), writes the full run
        directory (metrics, TensorBoard, checkpoints, plot, video).

        ``callback``: an ``offpolicy.Callback`` or a list of them (on_step / on_episode / on_eval; False stops).
        ``progress_bar`` (or ``progress``): show the bar for this call (default: the model's ``progress``).
        ``log_interval`` is refused: every episode goes to metrics.csv and TensorBoard, no tables are printed.

        ``live=True``: in a Jupyter notebook, one figure (score with its 10-episode mean and the evaluations, then each
        loss, under a progress line) is redrawn in place at episode ends, at most every 2 s (less often when a redraw
        is slow: drawing stays near 3% of the time), and the final figure stays in the cell; it replaces the progress
        bar unless ``progress=True``. Outside a notebook it does nothing and the progress bar shows as usual. Later
        ``live`` calls continue the same curves (see offpolicy.run.live and docs/notebooks.md)."""
        if total_steps is not None and total_timesteps is not None:
            raise ConfigError("learn: give total_timesteps or total_steps (the same thing), not both.")
        if progress is not None and progress_bar is not None and progress != progress_bar:
            raise ConfigError("learn: progress and progress_bar are the same setting; give one.")
        if log_interval is not None:
            raise ConfigError("learn: log_interval has no offpolicy equivalent: every episode is logged to "
                              "metrics.csv and TensorBoard (with run_dir or tensorboard_log) and no tables are printed; "
                              "drop it.")
        if reset_num_timesteps and self.num_timesteps > 0:
            raise ConfigError(f"learn: reset_num_timesteps=True: this model has trained {self.num_timesteps:,} steps, "
                              "and offpolicy always continues its step counter, buffer and schedules (SB3's "
                              "reset_num_timesteps=False); make a new model to start from step 0.")
        if tb_log_name is not None and (self.tensorboard_log is None or run_dir is not None):
            raise ConfigError("learn: tb_log_name names the run directory under the model's tensorboard_log; give "
                              "tensorboard_log=DIR when making the model (or name the directory with run_dir).")
        callbacks = _callbacks(callback)
        progress = progress_bar if progress is None else progress
        n = int(total_steps if total_steps is not None else
                total_timesteps if total_timesteps is not None else self.config.total_steps)
        trainer = self._trainer
        if self._empty_buffer_note is not None:
            warnings.warn(self._empty_buffer_note, stacklevel=2)
            self._empty_buffer_note = None
        if run_dir is None and self.tensorboard_log is not None and trainer.run_dir is None:
            cfg = self.config
            run_dir = new_run_dir(self.tensorboard_log, tb_log_name or f"{cfg.algo}-{_slug(cfg.env)}", cfg.seed)
        if run_dir is not None and trainer.run_dir is None:
            trainer.open_run_dir(run_dir)
        restore_progress = trainer.progress
        if progress is not None:
            trainer.progress = progress
        live_plot = self._live_plot() if live else None
        if live_plot is not None:
            live_plot.begin(self.num_timesteps + n)
            if live_plot.enabled and progress is None:
                trainer.progress = False  # the figure's status line replaces the bar for this call
            trainer.callbacks.append(live_plot)
        for cb in callbacks:
            cb.model = self
            trainer.callbacks.append(cb)
        try:
            trainer.learn(n)
            if trainer.run_dir is not None:
                self.summary = trainer.finish()
        finally:
            for cb in callbacks:
                trainer.callbacks.remove(cb)
            trainer.progress = restore_progress  # progress / progress_bar / live are for this call
            if live_plot is not None:
                trainer.callbacks.remove(live_plot)
                if trainer.final_eval is not None:  # finish()'s evaluation, the last point
                    live_plot.on_eval(*trainer.final_eval)
                live_plot.end()
        return self

    def _live_plot(self):
        from offpolicy.run.live import LivePlot

        if self._live is None:
            cfg = self.config
            self._live = LivePlot(self._trainer.agent.metric_names, title=f"{cfg.algo.upper()} {cfg.env} (seed {cfg.seed})",
                                  learning_starts=cfg.learning_starts)
        return self._live

    def show_video(self, path: str | Path | None = None, width: int | None = None):
        """Record one noise-free episode (the run's video seed) and return it as an inline HTML5 video
        (``IPython.display.HTML``, the MP4 embedded as base64): the last expression of a notebook cell shows it.
        With ``path``, the MP4 is also kept there. Needs IPython, and rendering (pygame, ffmpeg via imageio-ffmpeg)."""
        import tempfile

        try:
            from IPython.display import HTML
        except ImportError:
            raise OffpolicyError("show_video needs IPython (pip install 'offpolicy[notebook]'); without a notebook, "
                                 "`offpolicy eval RUN --video` or a run directory's video.mp4 keep the episode.") from None
        from offpolicy.run.live import video_html

        with tempfile.TemporaryDirectory(prefix="offpolicy-video-") as tmp:
            target = Path(path) if path is not None else Path(tmp) / "episode.mp4"
            try:
                episode_return, length = self._trainer.record_video(target)
                mp4 = target.read_bytes()
            except Exception as exc:
                raise OffpolicyError(
                    f"could not render a video of {self.config.env}: {type(exc).__name__}: {exc}. Rendering needs the "
                    "env to support render_mode='rgb_array' (classic-control envs need pygame: "
                    "pip install 'gymnasium[classic-control]') and ffmpeg (pip install imageio-ffmpeg).") from exc
        caption = (f"{type(self).__name__} on {self.config.env}, noise-free: return {episode_return:.1f} over "
                   f"{length} steps (after {self.num_timesteps:,} training steps)")
        return HTML(video_html(mp4, caption, width))

    # -- acting -------------------------------------------------------------------------------------------------------
    def predict(self, obs: np.ndarray, state: Any = None, episode_start: Any = None,
                deterministic: bool = False) -> tuple[np.ndarray, None]:
        """``(action, None)`` for one observation (``obs_shape``) or a batch (``[B, *obs_shape]``), as in SB3: the
        action in the env's own action space (an index for discrete actions), and no recurrent state.

        ``deterministic=True``: the noise-free policy (what evaluation, ``Policy.predict`` and exported files
        compute). ``deterministic=False`` (SB3's default): the agent's exploring action, ``act(explore=True)`` on the
        current agent state with a key the model holds and advances each call: DDPG and TD3 add one draw of their
        action noise (OU noise: one step from the process's current state; the model's noise state is not changed,
        so calls do not carry it on), SAC samples its policy, NoisyNet-DQN acts with a noise sample (a fresh one per
        call with ``noise_resample=step``, else the current one), epsilon-greedy DQN takes a random action with
        the current epsilon. Uniform warm-up actions are never returned.

        ``state`` must be None (offpolicy's policies are not recurrent); ``episode_start`` is accepted for SB3's
        signature and changes nothing (the model keeps no per-episode state between calls)."""
        if state is not None:
            raise ValueError("predict: state must be None: offpolicy's policies are not recurrent (predict returns "
                             "None as the state).")
        policy = self.policy()
        batch, single = policy.as_batch(obs)
        if episode_start is not None and np.shape(episode_start) not in ((), (len(batch),)):
            raise ValueError(f"predict: episode_start has shape {np.shape(episode_start)}; expected one bool or "
                             f"[{len(batch)}] (one per observation).")
        if deterministic:
            action = policy.to_env(policy.act(batch))
        else:
            if self._explore is None or self._explore[0] is not policy.agent:
                agent = policy.agent
                self._explore = (agent, jax.jit(lambda st, o, k: agent.act(st, o, k, explore=True)[0]))
            self._predict_key, key = jax.random.split(self._predict_key)
            action = policy.to_env(np.asarray(self._explore[1](policy.agent_state, jnp.asarray(batch), key)))
        return (action[0] if single else action), None

    def evaluate(self, episodes: int | None = None, n_eval_episodes: int | None = None) -> dict:
        """Noise-free evaluation on a separate env with the run's final-evaluation seeds (10 episodes: eval.json's).
        ``n_eval_episodes`` is SB3's name for ``episodes``."""
        if episodes is not None and n_eval_episodes is not None:
            raise ConfigError("evaluate: give episodes or n_eval_episodes (the same thing), not both.")
        n = episodes if episodes is not None else n_eval_episodes if n_eval_episodes is not None else 10
        if self._trainer_ is None and self._loaded is not None:
            _check_python_env(self.config, self._loaded.path, type(self))
            return self._loaded.evaluate(n)
        return self._trainer.evaluate(n)

    # -- persistence --------------------------------------------------------------------------------------------------
    def save(self, path: str | Path, include_buffer: bool = False) -> Path:
        """Write the model to the directory ``path``, named exactly as given (``"model.zip"`` is a directory of that
        name too): ``agent.safetensors`` (the agent state: weights, optimizer and exploration state) and ``meta.json``
        (config, env spec, action bounds, step counters), data only, never a pickle. ``include_buffer=True`` (SB3's
        ``save_replay_buffer``) adds ``training/``: the whole training state (replay buffer, keys, the env's place
        in its episode, evaluation seeds), so that ``load(path).learn(n)`` continues exactly as an uninterrupted
        run would. Returns ``path``."""
        trainer = self._trainer
        counters = trainer.counters()
        path = checkpoint.save(path, trainer.state, self.config, trainer.spec, counters,
                               action_bounds=trainer.action_bounds)
        if include_buffer:
            checkpoint.save(path / TRAINING_DIR, trainer.loop.carry, self.config, trainer.spec, counters,
                            kind="training", host=trainer.training_host_state())
        return path

    def export(self, path: str | Path, format: str | None = None, force: bool = False) -> Path:  # noqa: A002
        """Write the current noise-free policy to one file: ``format="numpy"`` (``.npz``, run by
        ``offpolicy.export.NumpyPolicy`` with NumPy alone) or ``"onnx"`` (needs ``pip install "offpolicy[onnx]"``);
        None picks it from the suffix (.onnx: onnx, else numpy). An existing file is replaced only with ``force``."""
        from offpolicy.export.writer import export_policy

        return export_policy(self.policy(), path, format, force, step=self.num_timesteps)

    @classmethod
    def load(cls, path: str | Path, env: Any = None, progress: bool | None = None,
             verbose: int | None = None) -> OffPolicyModel:
        """Load a directory written by ``save`` (or any checkpoint directory), or a run directory (its
        ``checkpoints/final``). Predicting needs no env, loop or replay buffer; ``learn`` or ``evaluate`` build what
        they need when called. ``learn`` continues from the saved step: exactly, with the replay buffer, when it was
        saved with ``include_buffer=True``; otherwise with an empty buffer (one warning says so). ``env``: the env to
        train and evaluate on (an id, Env or function, as for the constructor), in place of the saved one; needed
        for a model trained on an env object or function."""
        policy = Policy.load(checkpoint_dir(path))
        if policy.config.algo != cls.algo:
            raise CheckpointError(f"{policy.path}: holds a {policy.config.algo} checkpoint; load it with "
                                  f"offpolicy.{registry.get(policy.config.algo).api_class}.")
        config = policy.config
        if env is not None:
            values = env_values(env, cls.algo, None)
            if values.get("env_module") is not None:
                import_env_module(values["env_module"])
            config = dataclasses.replace(config, env=values["env"], env_kwargs=values.get("env_kwargs", {}),
                                         env_module=values.get("env_module"))
            config.check()
            policy.config = config
        model = cls.__new__(cls)
        model.config, model.progress, model.tensorboard_log = config, _progress(progress, verbose), None
        model._init_state()
        model._loaded = policy
        training = policy.path / TRAINING_DIR
        model._training_path = training if (training / checkpoint.META_FILE).is_file() else None
        return model


def _progress(progress: bool | None, verbose: int | None) -> bool:
    """``progress`` from SB3's ``verbose`` (0: quiet; 1, 2: the bar and status lines), or True by default."""
    if verbose is None:
        return True if progress is None else bool(progress)
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ConfigError(f"verbose={verbose!r}: must be 0 (quiet), 1 or 2 (progress bar and status lines).")
    if progress is not None and bool(progress) != (verbose > 0):
        raise ConfigError(f"verbose={verbose} and progress={progress} disagree; give one (verbose=0 is progress=False).")
    return verbose > 0


def _policy_kwargs(policy_kwargs: Any, overrides: dict[str, Any]) -> dict[str, Any]:
    """SB3's ``policy_kwargs`` as our keys: ``net_arch`` -> ``hidden_sizes``; anything else refused."""
    if not isinstance(policy_kwargs, dict):
        raise ConfigError(f"policy_kwargs must be a dict (e.g. dict(net_arch=[64, 64])); got {policy_kwargs!r}.")
    other = sorted(set(policy_kwargs) - {"net_arch"})
    if other:
        raise ConfigError(f"policy_kwargs: {', '.join(map(repr, other))} has no offpolicy equivalent; offpolicy takes "
                          "only net_arch (as hidden_sizes=[...]); every setting is listed by `offpolicy keys`.")
    if "net_arch" not in policy_kwargs:
        return {}
    if any(key.rsplit(".", 1)[-1] == "hidden_sizes" for key in overrides):
        raise ConfigError("policy_kwargs net_arch and hidden_sizes set the same thing; give one.")
    arch = policy_kwargs["net_arch"]
    if isinstance(arch, dict):
        lists = [list(v) for v in arch.values()]
        if not lists or any(v != lists[0] for v in lists):
            raise ConfigError(f"policy_kwargs net_arch={arch!r}: offpolicy's actor and critic share one "
                              "hidden_sizes; give one list (net_arch=[400, 300]).")
        arch = lists[0]
    return {"hidden_sizes": list(arch)}


def _callbacks(callback: Any) -> list[Callback]:
    """``learn``'s callback argument as a list of offpolicy.Callback objects, or a one-line refusal."""
    if callback is None:
        return []
    items = list(callback) if isinstance(callback, (list, tuple)) else [callback]
    for cb in items:
        if isinstance(cb, Callback):
            continue
        name = type(cb).__name__
        if "EvalCallback" in name:
            hint = ("periodic evaluation is built in: eval_every=N and eval_episodes=K (with run_dir or "
                    "tensorboard_log the best policy is saved to checkpoints/best)")
        elif "CheckpointCallback" in name:
            hint = "checkpoints are built in: checkpoint_every=N with run_dir (resumable training checkpoints)"
        else:
            hint = "subclass offpolicy.Callback and override on_step(step), on_episode(row) or on_eval(step, result)"
        raise ConfigError(f"callback {name}: not an offpolicy.Callback; {hint}.")
    return items


# -- envs given as Python objects -------------------------------------------------------------------------------------
def env_values(env: Any, algo: str, env_module: str | None) -> dict[str, Any]:
    """The config values (env, and env_kwargs / env_module when needed) for a model's ``env`` argument: an env id, a
    ``gymnasium.Env`` or a function returning one. Objects and functions are registered under PYTHON_ENVS."""
    if isinstance(env, (str, Path)):
        env_id, module = split_typed_env(str(env), env_module)  # typed in Python: "mypkg:Env-v0" imports mypkg
        return {"env": env_id} if module is None else {"env": env_id, "env_module": module}
    if isinstance(env, gym.vector.VectorEnv) or "VecEnv" in type(env).__name__:
        raise EnvError(f"env: {type(env).__name__} is a vector env, which offpolicy does not take: it makes its own "
                       "envs (n_envs to train per seed, one to evaluate); give the env id, one gymnasium.Env, or a "
                       "function that makes one, and n_envs=K for K envs per seed.")
    if isinstance(env, gym.Env):
        remade = _remade_from_spec(env)
        if remade is not None:
            return remade
        try:
            template = copy.deepcopy(env)
        except Exception as exc:
            raise EnvError(f"env: cannot copy this {type(env).__name__} ({type(exc).__name__}: {exc}), and offpolicy "
                           "needs several envs; give a function that makes it instead: "
                           f"DDPG(lambda: {type(env.unwrapped).__name__}(...)).") from None
        return {"env": _register(lambda: copy.deepcopy(template), type(env.unwrapped).__name__)}
    if callable(env):
        return {"env": _register(env, getattr(env, "__name__", type(env).__name__))}
    raise EnvError(f"env must be an env id (str), a gymnasium.Env or a function returning one; got "
                   f"{type(env).__name__}.")


def _remade_from_spec(env: gym.Env) -> dict[str, Any] | None:
    """The id and kwargs that ``gymnasium.make`` made ``env`` from, when that remakes it (no wrapper added after
    make, a registered id, only kwargs and max_episode_steps changed); else None."""
    spec = env.spec
    if spec is None or spec.additional_wrappers or spec.id not in gym.registry:
        return None
    registered = gym.registry[spec.id]
    same = ("entry_point", "reward_threshold", "nondeterministic", "order_enforce", "disable_env_checker")
    if any(getattr(spec, f) != getattr(registered, f) for f in same):
        return None
    kwargs = {k: v for k, v in spec.kwargs.items() if k not in registered.kwargs or registered.kwargs[k] != v}
    render_mode = kwargs.pop("render_mode", None)
    if render_mode is not None:
        warnings.warn(f"env: its render_mode={render_mode!r} is not used: offpolicy makes its own {spec.id} envs "
                      "(rgb_array for videos).", stacklevel=4)
    if spec.max_episode_steps != registered.max_episode_steps:
        kwargs["max_episode_steps"] = spec.max_episode_steps
    return {"env": spec.id, "env_kwargs": kwargs}


def _register(factory: Callable[[], gym.Env], name: str) -> str:
    """Register ``factory`` (called with no arguments, or with ``render_mode`` when it takes one) as a new env id of
    this process."""
    takes_render_mode = _takes(factory, "render_mode")

    def make(**kwargs: Any) -> gym.Env:
        render_mode = kwargs.pop("render_mode", None)
        if kwargs:
            raise TypeError(f"an env given as a Python object or function takes no env_kwargs (got {kwargs})")
        env = factory(render_mode=render_mode) if render_mode is not None and takes_render_mode else factory()
        if isinstance(env, gym.vector.VectorEnv) or not isinstance(env, gym.Env):
            raise EnvError(f"env function {name}: returned {type(env).__name__}, not one gymnasium.Env.")
        return env

    base = re.sub(r"[^\w.-]+", "", name) or "env"
    version = 0
    while f"{PYTHON_ENVS}/{base}-v{version}" in gym.registry:
        version += 1
    env_id = f"{PYTHON_ENVS}/{base}-v{version}"
    gym.register(env_id, entry_point=make)
    return env_id


def _takes(fn: Callable, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == name or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def _check_python_env(config: RunConfig, path: Path | None, cls: type) -> None:
    """A clear error when a loaded model's env was a Python object or function of another process."""
    if config.env.startswith(f"{PYTHON_ENVS}/") and config.env not in gym.registry:
        raise EnvError(f"{path}: trained on an env given as a Python object or function ({config.env} in that "
                       f"process); give it again: {cls.__name__}.load(path, env=...).")


def _slug(env_id: str) -> str:
    return re.sub(r"[^\w.-]+", "-", env_id.split("/")[-1])


def _model_class(entry: registry.Algorithm) -> type[OffPolicyModel]:
    doc = (f"{entry.title}, for {entry.action_kind} action spaces. Without ``preset`` or ``config`` it starts from "
           f"the ``{entry.default_preset}`` preset (with ``env`` replacing its env when given). See {entry.docs}.")
    return type(entry.api_class, (OffPolicyModel,), {"algo": entry.name, "__doc__": doc, "__module__": __name__})


MODEL_CLASSES: dict[str, type[OffPolicyModel]] = {e.api_class: _model_class(e) for e in registry.ALGORITHMS.values()}
"""One API class per registered algorithm, by class name (``DDPG``, ``DQN``)."""
globals().update(MODEL_CLASSES)
__all__ = ["OffPolicyModel", "MODEL_CLASSES", *MODEL_CLASSES]
