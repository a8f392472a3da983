import jax
import jax.numpy as jnp
import numpy as np

from offpolicy import buffer as rb
from offpolicy.buffer import Transition


def example(obs_dim=3, action_dim=1):
    return Transition(
        obs=jnp.zeros(obs_dim), action=jnp.zeros(action_dim), reward=jnp.zeros(()),
        next_obs=jnp.zeros(obs_dim), terminated=jnp.zeros((), bool), truncated=jnp.zeros((), bool),
    )


def batch_of(values, obs_dim=3, terminated=None, truncated=None):
    """Transitions whose every field encodes its id ``v``."""
    v = jnp.asarray(values, jnp.float32)
    n = v.shape[0]
    return Transition(
        obs=jnp.repeat(v[:, None], obs_dim, 1), action=v[:, None], reward=v,
        next_obs=jnp.repeat(v[:, None] + 0.5, obs_dim, 1),
        terminated=jnp.zeros(n, bool) if terminated is None else jnp.asarray(terminated),
        truncated=jnp.zeros(n, bool) if truncated is None else jnp.asarray(truncated),
    )


def test_init_is_empty_and_shaped():
    buf = rb.init(5, example())
    assert buf.capacity == 5
    assert buf.data.obs.shape == (5, 3) and buf.data.action.shape == (5, 1)
    assert buf.data.terminated.dtype == jnp.bool_ and buf.data.truncated.dtype == jnp.bool_
    assert int(buf.size) == 0 and int(buf.index) == 0


def test_single_adds_wrap_around():
    buf = rb.init(4, example())
    for v in range(6):  # ids 0..5 into capacity 4: 4 and 5 overwrite slots 0 and 1
        buf = rb.add(buf, batch_of([v]))
    assert int(buf.size) == 4 and int(buf.index) == 2
    np.testing.assert_array_equal(np.asarray(buf.data.reward), [4, 5, 2, 3])
    np.testing.assert_array_equal(np.asarray(buf.data.next_obs[:, 0]), [4.5, 5.5, 2.5, 3.5])


def test_batch_add_wraps_across_the_end():
    buf = rb.init(5, example())
    buf = rb.add(buf, batch_of([0, 1, 2]))
    buf = rb.add(buf, batch_of([3, 4, 5, 6]))  # slots 3, 4, 0, 1
    assert int(buf.size) == 5 and int(buf.index) == 2
    np.testing.assert_array_equal(np.asarray(buf.data.reward), [5, 6, 2, 3, 4])


def test_terminated_and_truncated_are_stored_apart():
    buf = rb.init(3, example())
    buf = rb.add(buf, batch_of([0, 1, 2], terminated=[True, False, False], truncated=[False, True, False]))
    np.testing.assert_array_equal(np.asarray(buf.data.terminated), [True, False, False])
    np.testing.assert_array_equal(np.asarray(buf.data.truncated), [False, True, False])


def test_sample_only_draws_stored_transitions():
    buf = rb.init(100, example())
    buf = rb.add(buf, batch_of([7, 8, 9]))
    batch = rb.sample(buf, jax.random.key(0), 256)
    assert batch.obs.shape == (256, 3)
    assert set(np.asarray(batch.reward).tolist()) == {7.0, 8.0, 9.0}  # never an empty slot (reward 0)
    # fields of a sampled row stay together
    np.testing.assert_array_equal(np.asarray(batch.next_obs[:, 0]), np.asarray(batch.reward) + 0.5)


def test_add_and_sample_jit_with_donation():
    add = jax.jit(rb.add, donate_argnums=0)
    buf = rb.init(8, example())
    for v in range(10):
        buf = add(buf, batch_of([v]))
    batch = jax.jit(rb.sample, static_argnums=2)(buf, jax.random.key(1), 64)
    assert set(np.asarray(batch.reward).astype(int).tolist()) <= set(range(2, 10))


def trajectory(capacity, rewards, terminated=(), truncated=()):
    """A buffer written with one transition per reward (id v: obs v, next_obs v + 0.5), in order, as a loop writes
    them; ``terminated`` / ``truncated`` list the ids whose step ended an episode."""
    ids = np.arange(len(rewards), dtype=np.float32)
    b = batch_of(ids, terminated=np.isin(ids, terminated), truncated=np.isin(ids, truncated))
    buf = rb.init(capacity, example())
    return rb.add(buf, b.replace(reward=jnp.asarray(rewards, jnp.float32)))


def n_step_at(buf, positions, n=3, gamma=0.5):
    out = rb.n_step_batch(buf, jnp.asarray(positions, jnp.int32), n, gamma)
    return {k: np.asarray(getattr(out, k)) for k in ("reward", "terminated", "truncated", "discount")} | {
        "start": np.asarray(out.obs[:, 0]), "bootstrap": np.asarray(out.next_obs[:, 0])}


def test_n_step_returns_on_a_hand_made_trajectory():
    # ids 0..7, rewards 1, 2, 4, 8, ...; id 3 terminates an episode, id 5 is truncated (a time limit)
    buf = trajectory(16, [1, 2, 4, 8, 16, 32, 64, 128], terminated=[3], truncated=[5])
    got = n_step_at(buf, [0, 1, 2, 3, 4, 5, 6, 7])
    # full window: 1 + .5*2 + .25*4 = 3, bootstrap from s_3 (next_obs of id 2 = 2.5) with gamma^3
    # id 1: 2 + .5*4 + .25*8 = 6, the window's last step (id 3) terminates: no bootstrap
    # id 2: 4 + .5*8 = 8, cut at the termination of id 3 (never reaching into the next episode)
    # id 3: 8, the terminal step itself; id 4: 16 + .5*32 = 32, cut at the truncation of id 5, which still
    # bootstraps from id 5's own next_obs (the truncated episode's final observation), gamma^2
    # id 5: 32, truncated, gamma^1; id 6: 64 + .5*128 = 128, cut by the newest stored transition (id 7); id 7: 128
    np.testing.assert_allclose(got["reward"], [3, 6, 8, 8, 32, 32, 128, 128])
    np.testing.assert_allclose(got["discount"], [0.125, 0.125, 0.25, 0.5, 0.25, 0.5, 0.25, 0.5])
    np.testing.assert_array_equal(got["bootstrap"], [2.5, 3.5, 3.5, 3.5, 5.5, 5.5, 7.5, 7.5])
    np.testing.assert_array_equal(got["terminated"], [False, True, True, True, False, False, False, False])
    np.testing.assert_array_equal(got["truncated"], [False, False, False, False, True, True, False, False])
    np.testing.assert_array_equal(got["start"], np.arange(8))


def test_n_step_window_crosses_the_ring_buffers_end():
    # capacity 5, ids 0..6 written: positions hold ids [5, 6, 2, 3, 4]; the oldest is id 2 (position 2)
    buf = trajectory(5, [1, 2, 4, 8, 16, 32, 64])
    got = n_step_at(buf, [3, 4, 0, 1])
    # id 3 (position 3): ids 3, 4, 5 = 8 + .5*16 + .25*32 = 24, over positions 3, 4, 0; id 4: 16 + 16 + 16 = 48
    # id 5 (position 0): 32 + .5*64, then the newest (id 6) ends the known steps; id 6: 64 alone
    np.testing.assert_allclose(got["reward"], [24, 48, 64, 64])
    np.testing.assert_allclose(got["discount"], [0.125, 0.125, 0.25, 0.5])
    np.testing.assert_array_equal(got["bootstrap"], [5.5, 6.5, 6.5, 6.5])
    np.testing.assert_array_equal(got["start"], [3, 4, 5, 6])


def test_one_step_n_step_batch_is_the_plain_transition():
    buf = trajectory(8, [1, 2, 4, 8], terminated=[1])
    got = n_step_at(buf, [0, 1, 2, 3], n=1, gamma=0.9)
    np.testing.assert_allclose(got["reward"], [1, 2, 4, 8])
    np.testing.assert_allclose(got["discount"], [0.9] * 4, rtol=1e-6)
    np.testing.assert_array_equal(got["bootstrap"], [0.5, 1.5, 2.5, 3.5])
    sampled = rb.n_step_batch(buf, rb.sample_indices(buf, jax.random.key(0), 64), 3, 0.5)
    assert set(np.asarray(sampled.obs[:, 0]).tolist()) <= {0, 1, 2, 3}


def test_n_step_windows_of_interleaved_envs_follow_their_own_env():
    """Two envs writing one transition each per vector step (A0 B0 A1 B1 ...), into a ring of odd capacity that has
    wrapped: with stride 2 each window is the one its env's own buffer gives (ends, truncation, newest step)."""
    rewards = {0: [1, 2, 4, 8, 16, 32, 64, 128], 10: [3, 5, 7, 9, 11, 13, 15, 17]}  # env A ids 0.., env B ids 10..
    ends = {0: ([3], [5]), 10: ([6], [1])}  # (terminated, truncated) step numbers of each env
    ids = np.array([[k, 10 + k] for k in range(8)], np.float32).reshape(-1)
    steps = ids % 10
    term = np.array([s in ends[e][0] for s, e in zip(steps, ids - steps)])
    trunc = np.array([s in ends[e][1] for s, e in zip(steps, ids - steps)])
    reward = np.array([rewards[e][int(s)] for s, e in zip(steps, ids - steps)], np.float32)
    buf = rb.add(rb.init(9, example()), batch_of(ids, terminated=term, truncated=trunc).replace(reward=reward))
    positions = np.arange(9)  # writes 7..15 are stored: B3, A4, B4, ..., B7
    out = rb.n_step_batch(buf, jnp.asarray(positions, jnp.int32), 3, 0.5, stride=2)
    start = np.asarray(out.obs[:, 0])
    assert sorted(start.tolist()) == [4, 5, 6, 7, 13, 14, 15, 16, 17]
    for env in (0, 10):
        own = trajectory(16, rewards[env], *ends[env])
        mine = start - env
        sel = (start >= env) & (start < env + 8)
        want = n_step_at(own, mine[sel].astype(int))
        np.testing.assert_allclose(np.asarray(out.reward)[sel], want["reward"])
        np.testing.assert_allclose(np.asarray(out.discount)[sel], want["discount"])
        np.testing.assert_array_equal(np.asarray(out.next_obs[:, 0])[sel] - env, want["bootstrap"])
        np.testing.assert_array_equal(np.asarray(out.terminated)[sel], want["terminated"])
        np.testing.assert_array_equal(np.asarray(out.truncated)[sel], want["truncated"])
