"""Notebook helpers: the live plot's throttling and fallback, notebook detection, inline video."""

import base64
import re
import sys
import types

import numpy as np
import pytest

from offpolicy import DQN
from offpolicy.errors import OffpolicyError
from offpolicy.run import live
from offpolicy.run.live import LivePlot, in_notebook, video_html

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def row(step, ret=-100.0, loss=0.5):
    return {"step": step, "episode": step // 200, "episode_return": ret, "episode_length": 200, "actor_loss": loss,
            "critic_loss": loss, "q_mean": 1.0, "steps_per_s": 500.0, "time_s": 1.0}


def fake_render(self):
    return b"png"


def test_redraws_are_throttled_to_the_interval_and_happen_only_at_episode_ends(monkeypatch):
    monkeypatch.setattr(LivePlot, "render", fake_render)
    clock, shown = FakeClock(), []
    plot = LivePlot(("actor_loss", "critic_loss", "q_mean"), enabled=True, sink=shown.append, clock=clock,
                    min_interval=2.0)
    plot.begin(1_000_000)
    for i in range(1000):  # 1,000 episodes in 10 s of (fake) time
        plot.on_episode(row(200 * (i + 1)))
        clock.now += 0.01
    # draws at t = 2, 4, 6, 8 (the first 2 s after the start, then at most one per 2 s)
    assert plot.redraws == len(shown) == 4
    plot.on_eval(200_000, {"mean": -50.0, "std": 3.0})
    assert plot.redraws == 4  # an evaluation alone never redraws
    plot.end()
    assert plot.redraws == 5  # the final state, left in the cell
    plot.end()
    assert plot.redraws == 5  # nothing new: no second final draw
    assert len(plot.rows) == 1000 and plot.evals == [(200_000, -50.0, 3.0)]


def test_slow_redraws_stretch_the_interval_so_drawing_stays_a_small_fraction_of_the_time(monkeypatch):
    monkeypatch.setattr(LivePlot, "render", fake_render)
    clock = FakeClock()

    def slow_sink(png):  # every redraw takes 1 s
        clock.now += 1.0

    plot = LivePlot(("loss",), enabled=True, sink=slow_sink, clock=clock, min_interval=2.0, max_overhead=0.05,
                    max_interval=60.0)
    plot.begin()
    for i in range(950):  # 95 s of training
        plot.on_episode(row(10 * (i + 1)))
        clock.now += 0.1
    # first draw at 2 s (it waits min_interval: it paid for imports); after every later 1 s draw the next waits
    # 1 / 0.05 = 20 s: draws at 2, 5, 26, 47, 68, 89 (+1 s each)
    assert plot.redraws == 6
    assert plot.draw_time == pytest.approx(6.0)
    assert plot.draw_time / clock.now <= 0.05 + 2 / clock.now


def test_the_wait_between_redraws_is_capped(monkeypatch):
    monkeypatch.setattr(LivePlot, "render", fake_render)
    clock = FakeClock()

    def slow_sink(png):
        clock.now += 1.0

    plot = LivePlot(("loss",), enabled=True, sink=slow_sink, clock=clock, min_interval=2.0, max_overhead=0.01,
                    max_interval=10.0)
    plot.begin()
    for i in range(600):  # 60 s of training; uncapped, a 1 s draw would wait 100 s
        plot.on_episode(row(10 * (i + 1)))
        clock.now += 0.1
    # draws at 2, 5, 16, 27, 38, 49, 60 (+1 s each): every 10 s + 1 s of drawing
    assert plot.redraws == 7


def test_outside_a_notebook_nothing_is_drawn_but_rows_are_kept():
    def sink(png):
        raise AssertionError("drew outside a notebook")

    assert not in_notebook()  # pytest is no Jupyter kernel
    plot = LivePlot(("loss",), sink=sink)
    assert not plot.enabled
    plot.begin(1000)
    for i in range(50):
        plot.on_episode(row(10 * (i + 1)))
    plot.on_eval(500, {"mean": 1.0, "std": 0.0})
    plot.end()
    assert plot.redraws == 0 and len(plot.rows) == 50


def test_in_notebook_needs_an_ipython_kernel(monkeypatch):
    def fake_ipython(shell):
        return types.SimpleNamespace(get_ipython=lambda: shell)

    monkeypatch.setitem(sys.modules, "IPython", fake_ipython(types.SimpleNamespace(kernel=object())))
    assert in_notebook()
    monkeypatch.setitem(sys.modules, "IPython", fake_ipython(types.SimpleNamespace()))  # terminal IPython: no kernel
    assert not in_notebook()
    monkeypatch.setitem(sys.modules, "IPython", fake_ipython(None))  # IPython imported, not running
    assert not in_notebook()
    monkeypatch.delitem(sys.modules, "IPython")
    assert not in_notebook()


def test_render_draws_the_score_and_one_panel_per_metric_as_png():
    plot = LivePlot(("actor_loss", "critic_loss", "q_mean"), title="DDPG Pendulum-v1 (seed 0)", enabled=True,
                    sink=lambda png: None, learning_starts=300)
    plot.begin(2000)
    plot.on_episode({**row(200), "actor_loss": None, "critic_loss": None})  # warm-up: no losses yet
    for step in range(400, 2001, 200):
        plot.on_episode(row(step, ret=-step / 10))
    plot.on_eval(2000, {"mean": -150.0, "std": 10.0})
    png = plot.render()
    assert png.startswith(PNG_SIGNATURE)
    assert [ax.get_title() for ax in plot._fig.axes[1:]] == ["actor_loss", "critic_loss", "q_mean"]
    assert any(list(line.get_xdata()) == [300, 300] for line in plot._fig.axes[0].lines)  # learning starts
    assert "step 2,000 / 2,000 (100%)" in plot.status_line() and "eval -150.0" in plot.status_line()


def test_sac_gets_a_panel_for_every_metric_it_logs():
    from offpolicy.agents import EnvSpec, make_agent
    from offpolicy.hparams import SACConfig

    names = make_agent("sac", SACConfig(), EnvSpec(obs_shape=(3,), action_dim=1)).metric_names
    assert {"actor_loss", "critic_loss", "alpha_loss", "alpha", "q_mean"} <= set(names)
    assert LivePlot(names).losses == names


def test_later_calls_continue_the_curves_with_a_new_figure(monkeypatch):
    monkeypatch.setattr(LivePlot, "render", fake_render)
    sinks = []

    def make_sink():
        sinks.append([])
        return sinks[-1].append

    clock = FakeClock()
    plot = LivePlot(("loss",), enabled=True, clock=clock)
    plot._sink_factory = make_sink
    plot.begin(1000)
    for i in range(5):
        plot.on_episode(row(200 * (i + 1)))
    plot.end()
    plot.begin(2000)
    plot.on_episode(row(1200))
    plot.end()
    assert len(sinks) == 2 and len(sinks[1]) == 1  # a second display; it drew at once
    assert [r["step"] for r in plot.rows] == [200, 400, 600, 800, 1000, 1200]
    assert "(20%)" in plot.status_line()  # 200 of this call's 1,000 steps


def test_video_html_embeds_the_mp4_as_base64_and_escapes_the_caption():
    out = video_html(b"\x00\x00\x00\x18ftypmp42", caption="return <1> & more", width=320)
    assert out.count("<video") == 1 and 'width="320"' in out
    data = re.search(r'src="data:video/mp4;base64,([A-Za-z0-9+/=]+)"', out).group(1)
    assert base64.b64decode(data) == b"\x00\x00\x00\x18ftypmp42"
    assert "return &lt;1&gt; &amp; more" in out


# -- the model API: one small DQN for the tests below (compiles once) ---------------------------------------------------

@pytest.fixture(scope="module")
def model():
    return DQN("CartPole-v1", seed=0, warmup_steps=200, learning_starts=200, eval_every=0, video=False)


class RecordingSink:
    shown: list = []

    def __call__(self, png):
        RecordingSink.shown.append(png)


def test_learn_live_outside_a_notebook_keeps_the_progress_bar(model, capsys):
    model.learn(60, live=True)
    err = capsys.readouterr().err
    assert "60/60" in err  # tqdm's bar, as without live
    assert not model._live.enabled and model._live.redraws == 0
    assert model._live.rows and model._trainer.callbacks == []


def test_learn_live_in_a_notebook_draws_instead_of_the_bar(model, capsys, monkeypatch):
    monkeypatch.setattr(live, "in_notebook", lambda: True)
    monkeypatch.setattr(live, "_DisplaySink", RecordingSink)
    RecordingSink.shown.clear()
    model._live = None  # a fresh live plot, now in a "notebook"
    before = model.num_timesteps
    model.learn(60, live=True)
    assert model.num_timesteps == before + 60
    assert "60/60" not in capsys.readouterr().err  # the figure replaced the bar for this call...
    assert model._trainer.progress is True  # ...and only for this call
    assert model._trainer.callbacks == []
    assert RecordingSink.shown and all(png.startswith(PNG_SIGNATURE) for png in RecordingSink.shown)
    assert model._live.redraws == len(RecordingSink.shown)


def test_show_video_returns_inline_html5_video(model, tmp_path):
    from IPython.display import HTML

    video = model.show_video()
    assert isinstance(video, HTML)
    assert "<video" in video.data and "CartPole-v1" in video.data
    data = re.search(r'src="data:video/mp4;base64,([A-Za-z0-9+/=]+)"', video.data).group(1)
    assert base64.b64decode(data)[4:8] == b"ftyp"  # an MP4 container
    kept = model.show_video(tmp_path / "episode.mp4")
    assert (tmp_path / "episode.mp4").read_bytes()[4:8] == b"ftyp" and "<video" in kept.data


def test_show_video_explains_what_is_missing(model, monkeypatch):
    def broken(path):
        raise ModuleNotFoundError("No module named 'pygame'")

    monkeypatch.setattr(model._trainer, "record_video", broken)
    with pytest.raises(OffpolicyError, match="could not render a video of CartPole-v1.*pygame"):
        model.show_video()
    monkeypatch.setitem(sys.modules, "IPython.display", None)  # IPython not installed
    with pytest.raises(OffpolicyError, match="needs IPython"):
        model.show_video()


def test_live_plot_columns_match_the_csv_names():
    plot = LivePlot(("loss", "q_mean", "sigma_mean"), enabled=False)
    plot.on_episode({"step": 10, "episode_return": 10.0, "loss": None, "steps_per_s": None})
    plot.on_episode({"step": 30, "episode_return": 20.0, "loss": 0.25, "steps_per_s": 800.0})
    metrics, evals = plot.columns()
    assert list(metrics) == ["step", "episode_return", "loss", "q_mean", "sigma_mean"] and evals == {}
    np.testing.assert_array_equal(metrics["loss"], [np.nan, 0.25])
