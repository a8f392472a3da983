"""Python API in the spirit of Stable-Baselines3.

    from offpolicy import DDPG
    model = DDPG("Pendulum-v1", seed=0, actor_lr=1e-3)    # any config key as a keyword (suffixes work: sigma=0.2)
    model.learn(50_000, run_dir="runs/my-run")             # run_dir optional: without it nothing is written
    action = model.predict(obs, deterministic=True)        # action in the env's own bounds (not a tuple, unlike SB3)
    model.evaluate(episodes=10)                            # {"mean": ..., "std": ..., "returns": [...], ...}
    model.save("ddpg-pendulum.ckpt"); model = DDPG.load("ddpg-pendulum.ckpt")

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

from offpolicy.config import RunConfig, make_config
from offpolicy.errors import CheckpointError, OffpolicyError
from offpolicy.run import checkpoint
from offpolicy.run.trainer import Trainer


class OffPolicyModel:
    """Shared model shell; subclasses set ``algo`` and ``default_env``."""

    algo: ClassVar[str]
    default_env: ClassVar[str]

    def __init__(self, env: str | None = None, seed: int = 0, *, preset: str | None = None,
                 config: RunConfig | None = None, progress: bool = True, **overrides: Any):
        if config is None:
            values: dict[str, Any] = {"algo": self.algo, "seed": seed, **overrides}
            if env is not None or preset is None:
                values["env"] = env or self.default_env
            config = make_config(preset, values)
        if config.algo != self.algo:
            raise ValueError(f"{type(self).__name__} cannot use a config for algo {config.algo!r}.")
        self.config = config
        self.progress = progress
        self._trainer = Trainer(config, run_dir=None, progress=progress)
        self._predict_key = jax.random.key(config.seed + 1_000_003)
        self._live = None  # LivePlot of learn(live=True), kept so later calls continue its curves

    @classmethod
    def from_preset(cls, preset: str, **overrides: Any) -> OffPolicyModel:
        """Model from a built-in preset (e.g. ``ddpg-pendulum``) or a YAML path, with key overrides."""
        return cls(preset=preset, **overrides)

    # -- training -----------------------------------------------------------------------------------------------------
    @property
    def num_timesteps(self) -> int:
        return self._trainer.loop.state.step

    @property
    def run_dir(self) -> Path | None:
        return self._trainer.run_dir

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
                if self._trainer.last_eval is not None:  # e.g. finish()'s final evaluation
                    live_plot.on_eval(*self._trainer.last_eval)
                live_plot.end()
        return self

    def _live_plot(self):
        from offpolicy.run.live import LivePlot

        if self._live is None:
            cfg = self.config
            self._live = LivePlot(self._trainer.agent.metric_names, title=f"{cfg.algo.upper()} {cfg.env} (seed {cfg.seed})")
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
        spec = self._trainer.spec
        obs = np.asarray(obs, np.float32)
        single = obs.shape == tuple(spec.obs_shape)
        if not single and obs.shape[1:] != tuple(spec.obs_shape):
            raise ValueError(f"obs has shape {obs.shape}; expected {tuple(spec.obs_shape)} or [B, *{tuple(spec.obs_shape)}].")
        batch = obs[None] if single else obs
        if deterministic:
            action = self._trainer.policy(batch)
        else:
            self._predict_key, key = jax.random.split(self._predict_key)
            action = np.asarray(self._trainer.agent.act(self._trainer.state, jnp.asarray(batch), key, explore=True)[0])
        action = self._to_env_action(action)
        return action[0] if single else action

    def _to_env_action(self, action: np.ndarray) -> np.ndarray:
        if self._trainer.spec.discrete:
            return action.astype(np.int64)
        space = self._trainer.env.env.action_space  # under RescaleAction: the env's own bounds
        low, high = space.low.astype(np.float32), space.high.astype(np.float32)
        return np.clip(low + (action + 1.0) * 0.5 * (high - low), low, high)

    def evaluate(self, episodes: int = 10) -> dict:
        """Noise-free evaluation on a separate env with the run's evaluation seeds."""
        return self._trainer.evaluate(episodes)

    # -- persistence --------------------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write a checkpoint directory (agent.safetensors + meta.json)."""
        s = self._trainer.loop.state
        info = {"step": s.step, "episodes": s.episode, "updates": s.updates}
        return checkpoint.save(path, self._trainer.state, self.config, self._trainer.spec, info)

    @classmethod
    def load(cls, path: str | Path, progress: bool = True) -> OffPolicyModel:
        """Load a checkpoint directory, or a run directory (its ``checkpoints/final``)."""
        path = Path(path)
        if (path / "checkpoints" / "final").is_dir():
            path = path / "checkpoints" / "final"
        meta, config, spec = checkpoint.read_meta(path)
        if config.algo != cls.algo:
            raise CheckpointError(f"{path}: holds a {config.algo} checkpoint; load it with that algorithm's class.")
        model = cls(config=config, progress=progress)
        if model._trainer.spec != spec:
            raise CheckpointError(f"{path}: saved for env spec {spec}, but {config.env} now has {model._trainer.spec}.")
        model._trainer.set_state(checkpoint.restore(path, model._trainer.state))
        return model


class DDPG(OffPolicyModel):
    """Deep Deterministic Policy Gradient (Lillicrap et al. 2015) for continuous (Box) action spaces."""

    algo = "ddpg"
    default_env = "Pendulum-v1"


class DQN(OffPolicyModel):
    """DQN (Mnih et al. 2015) with NoisyNet exploration (Fortunato et al. 2017), or epsilon-greedy with
    ``exploration="epsilon"``, for discrete (gymnasium.spaces.Discrete) action spaces.

    Without ``preset`` or ``config``, the run settings and hyperparameters are the ``noisy-dqn-cartpole`` preset's
    (with ``env`` replacing CartPole-v1 when given).
    """

    algo = "dqn"
    default_env = "CartPole-v1"
    default_preset: ClassVar[str] = "noisy-dqn-cartpole"

    def __init__(self, env: str | None = None, seed: int = 0, *, preset: str | None = None,
                 config: RunConfig | None = None, progress: bool = True, **overrides: Any):
        if preset is None and config is None:
            preset = self.default_preset
            if env is None:
                env = self.default_env
        super().__init__(env, seed, preset=preset, config=config, progress=progress, **overrides)
