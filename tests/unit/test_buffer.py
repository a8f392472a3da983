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
