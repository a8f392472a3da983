"""Python API in the spirit of Stable-Baselines3.

    from offpolicy import DDPG
    model = DDPG("Pendulum-v1", seed=0, actor_lr=1e-3)    # any config key as a keyword (suffixes work: sigma=0.2)
    model.learn(50_000, run_dir="runs/my-run")             # run_dir optional: without it nothing is written
    action = model.predict(obs, deterministic=True)        # action in the env's own bounds (not a tuple, unlike SB3)
    model.evaluate(episodes=10)                            # {"mean": ..., "std": ..., "returns": [...], ...}
    model.save("ddpg-pendulum.ckpt"); model = DDPG.load("ddpg-pendulum.ckpt")
    model.export("policy.npz")                              # or "policy.onnx": run it without JAX (docs/export.md)

    # in a Jupyter notebook:
    model.learn(50_000, live=True)     # score and loss curves redrawn in place (every 2-15 s); a progress bar elsewhere
    model.show_video()                  # one noise-free episode as an inline HTML5 video (show_video("ep.mp4") keeps it)

    from offpolicy import DQN
    model = DQN("CartPole-v1", seed=0).learn(50_000)        # NoisyNet-DQN; DQN(..., exploration="epsilon") for e-greedy
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from offpolicy import registry
from offpolicy.config import RunConfig, make_config
from offpolicy.envs import import_env_module, split_typed_env
from offpolicy.errors import CheckpointError, OffpolicyError
from offpolicy.policy import Policy, checkpoint_dir
from offpolicy.run import checkpoint
from offpolicy.run.trainer import Trainer


class OffPolicyModel:
    """Shared model shell; each registered algorithm gets a subclass (``offpolicy.DDPG``, ...) with its ``algo``.

    Without ``preset`` or ``config`` a model starts from its algorithm's default preset (the registry's), with
    ``env`` replacing the preset's env when given."""

    algo: ClassVar[str]

    def __init__(self, env: str | None = None, seed: int = 0, *, preset: str | None = None,
                 config: RunConfig | None = None, progress: bool = True, **overrides: Any):
        if config is None:
            values: dict[str, Any] = {"algo": self.algo, "seed": seed, **overrides}
            if env is not None:  # typed in Python: "mypkg:Env-v0" imports mypkg (a file's env id never does)
                values["env"], module = split_typed_env(env, overrides.get("env_module"))
                if module is not None:
                    values["env_module"] = module
            if values.get("env_module") is not None:
                import_env_module(values["env_module"])
            config = make_config(preset or registry.get(self.algo).default_preset, values)
        if config.algo != self.algo:
            raise ValueError(f"{type(self).__name__} cannot use a config for algo {config.algo!r}.")
        config.check()
        self.config = config
        self.progress = progress
        self._trainer_: Trainer | None = None  # built when training or evaluation first needs it
        self._loaded: Policy | None = None  # a loaded checkpoint's policy, until a trainer takes its state over
        self._policy: Policy | None = None
        self._predict_key = jax.random.key(config.seed + 1_000_003)
        self._live = None  # LivePlot of learn(live=True), kept so later calls continue its curves
        self._trainer_ = Trainer(config, run_dir=None, progress=progress)  # validates the env at once

    @property
    def _trainer(self) -> Trainer:
        if self._trainer_ is None:
            self._trainer_ = Trainer(self.config, run_dir=None, progress=self.progress)
            if self._loaded is not None:
                if self._trainer_.spec != self._loaded.spec:
                    raise CheckpointError(f"{self._loaded.path}: saved for env spec {self._loaded.spec}, but "
                                          f"{self.config.env} now has {self._trainer_.spec}.")
                self._trainer_.set_state(self._loaded.agent_state)
                self._loaded = None
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
        if self._trainer_ is None and self._loaded is not None:
            return int(self._loaded.meta.get("info", {}).get("step", 0))
        return self._trainer.step

    @property
    def run_dir(self) -> Path | None:
        return None if self._trainer_ is None else self._trainer_.run_dir

    def learn(self, total_steps: int | None = None, run_dir: str | Path | None = None,
              progress: bool | None = None, live: bool = False) -> OffPolicyModel:
        """Train ``total_steps`` more env steps (default: the config's total_steps). Calling again continues.
        With ``run_dir``, writes the full run directory (metrics, TensorBoard, checkpoints, plot, video).

        ``live=True``: in a Jupyter notebook, one figure (score with its 10-episode mean and the evaluations, then each
        loss, under a progress line) is redrawn in place at episode ends, at most every 2 s (less often when a redraw
        is slow: drawing stays near 3% of the time), and the final figure stays in the cell; it replaces the progress
        bar unless ``progress=True``. Outside a notebook it does nothing and the progress bar shows as usual. Later
        ``live`` calls continue the same curves (see offpolicy.run.live and docs/notebooks.md)."""
        n = int(total_steps if total_steps is not None else self.config.total_steps)
        if run_dir is not None and self._trainer.run_dir is None:
            self._trainer.open_run_dir(run_dir)
        if progress is not None:
            self._trainer.progress = progress
        live_plot = self._live_plot() if live else None
        restore_progress = self._trainer.progress
        if live_plot is not None:
            live_plot.begin(self.num_timesteps + n)
            if live_plot.enabled and progress is None:
                self._trainer.progress = False  # the figure's status line replaces the bar for this call
            self._trainer.callbacks.append(live_plot)
        try:
            self._trainer.learn(n)
            if self._trainer.run_dir is not None:
                self.summary = self._trainer.finish()
        finally:
            if live_plot is not None:
                self._trainer.callbacks.remove(live_plot)
                self._trainer.progress = restore_progress
                if self._trainer.final_eval is not None:  # finish()'s evaluation, the last point
                    live_plot.on_eval(*self._trainer.final_eval)
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
    def predict(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Action for one observation (``obs_shape``) or a batch (``[B, *obs_shape]``), in the env's action space.
        ``deterministic=False`` adds the exploration noise (its state is not carried between calls)."""
        policy = self.policy()
        if deterministic:
            return policy.predict(obs)
        batch, single = policy.as_batch(obs)
        self._predict_key, key = jax.random.split(self._predict_key)
        action = np.asarray(policy.agent.act(policy.agent_state, jnp.asarray(batch), key, explore=True)[0])
        action = policy.to_env(action)
        return action[0] if single else action

    def evaluate(self, episodes: int = 10) -> dict:
        """Noise-free evaluation on a separate env with the run's final-evaluation seeds (10 episodes: eval.json's)."""
        if self._trainer_ is None and self._loaded is not None:
            return self._loaded.evaluate(episodes)
        return self._trainer.evaluate(episodes)

    # -- persistence --------------------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write a checkpoint directory (agent.safetensors + meta.json)."""
        trainer = self._trainer
        s = trainer.loop.states[0]
        info = {"step": s.step, "episodes": s.episode, "updates": s.updates}
        return checkpoint.save(path, trainer.state, self.config, trainer.spec, info,
                               action_bounds=trainer.action_bounds)

    def export(self, path: str | Path, format: str | None = None, force: bool = False) -> Path:  # noqa: A002
        """Write the current noise-free policy to one file: ``format="numpy"`` (``.npz``, run by
        ``offpolicy.export.NumpyPolicy`` with NumPy alone) or ``"onnx"`` (needs ``pip install "offpolicy[onnx]"``);
        None picks it from the suffix (.onnx: onnx, else numpy). An existing file is replaced only with ``force``."""
        from offpolicy.export.writer import export_policy

        return export_policy(self.policy(), path, format, force, step=self.num_timesteps)

    @classmethod
    def load(cls, path: str | Path, progress: bool = True) -> OffPolicyModel:
        """Load a checkpoint directory, or a run directory (its ``checkpoints/final``). Predicting needs no env,
        loop or replay buffer; ``learn`` or ``evaluate`` build what they need when called."""
        policy = Policy.load(checkpoint_dir(path))
        if policy.config.algo != cls.algo:
            raise CheckpointError(f"{policy.path}: holds a {policy.config.algo} checkpoint; load it with "
                                  f"offpolicy.{registry.get(policy.config.algo).api_class}.")
        model = cls.__new__(cls)
        model.config, model.progress = policy.config, progress
        model._trainer_, model._loaded, model._policy, model._live = None, policy, None, None
        model._predict_key = jax.random.key(policy.config.seed + 1_000_003)
        return model


def _model_class(entry: registry.Algorithm) -> type[OffPolicyModel]:
    doc = (f"{entry.title}, for {entry.action_kind} action spaces. Without ``preset`` or ``config`` it starts from "
           f"the ``{entry.default_preset}`` preset (with ``env`` replacing its env when given). See {entry.docs}.")
    return type(entry.api_class, (OffPolicyModel,), {"algo": entry.name, "__doc__": doc, "__module__": __name__})


MODEL_CLASSES: dict[str, type[OffPolicyModel]] = {e.api_class: _model_class(e) for e in registry.ALGORITHMS.values()}
"""One API class per registered algorithm, by class name (``DDPG``, ``DQN``)."""
globals().update(MODEL_CLASSES)
__all__ = ["OffPolicyModel", "MODEL_CLASSES", *MODEL_CLASSES]
