"""Prioritized replay (Schaul et al. 2016, proportional): the sum tree, sampling by priority, importance weights,
priorities after an update, and how the learner uses them."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from test_buffer import batch_of, example

from offpolicy import buffer as rb


def filled(capacity, n, priorities=None):
    """A prioritized buffer holding transitions 0..n-1, with the given priorities (after their max-priority add)."""
    buf = rb.add(rb.init(capacity, example(), prioritized=True), batch_of(list(range(n))))
    if priorities is not None:
        buf = rb.set_priorities(buf, jnp.arange(n), jnp.asarray(priorities, jnp.float32))
    return buf


def leaves(buf):
    return np.asarray(buf.tree[buf.tree.shape[0] // 2:])


def test_the_tree_is_padded_to_a_power_of_two_and_new_transitions_get_the_largest_priority():
    assert [rb.tree_leaves(c) for c in (1, 2, 3, 5, 8, 1000)] == [1, 2, 4, 8, 8, 1024]
    buf = filled(5, 3)
    assert buf.tree.shape == (16,)
    np.testing.assert_array_equal(leaves(buf), [1, 1, 1, 0, 0, 0, 0, 0])  # max priority starts at 1
    buf = rb.set_priorities(buf, jnp.array([0, 2]), jnp.array([3.0, 0.5]))
    assert float(buf.max_priority) == 3.0
    buf = rb.add(buf, batch_of([3, 4, 5]))  # 5 wraps onto position 0
    np.testing.assert_array_equal(leaves(buf), [3, 1, 0.5, 3, 3, 0, 0, 0])
    assert float(buf.tree[1]) == pytest.approx(10.5)
    assert rb.init(5, example()).tree is None  # uniform replay carries no tree


@settings(max_examples=30, deadline=None)
@given(capacity=st.integers(1, 40), writes=st.lists(st.tuples(st.integers(0, 39), st.floats(0.0, 100.0, width=32, allow_subnormal=False)),
                                                      min_size=1, max_size=60))
def test_every_node_is_the_sum_of_its_children_after_random_updates(capacity, writes):
    buf = rb.init(capacity, example(), prioritized=True)
    expected = np.zeros(capacity, np.float64)
    set_priorities = jax.jit(rb.set_priorities)  # one program per capacity, not one per operation
    for position, value in writes:
        position %= capacity
        buf = set_priorities(buf, jnp.array([position]), jnp.array([value], jnp.float32))
        expected[position] = value
    tree = np.asarray(buf.tree, np.float64)
    half = tree.shape[0] // 2
    np.testing.assert_array_equal(tree[half:half + capacity], expected.astype(np.float32))
    for node in range(1, half):
        assert tree[node] == np.float32(tree[2 * node] + tree[2 * node + 1])
    assert tree[1] == pytest.approx(expected.sum(), rel=1e-5)


def test_sampling_frequencies_match_the_priorities():
    """10^5 draws (stratified batches of 100) against P(i) = p_i / sum p: a chi-square test at the 0.1% level."""
    p = np.array([0.0, 1.0, 2.0, 0.5, 4.0, 0.25, 3.0, 1.25, 0.0, 8.0], np.float32)
    buf = filled(12, 10, p)  # capacity 12: leaves 10..15 are empty padding or unused
    draw = jax.jit(jax.vmap(lambda k: rb.sample_prioritized(buf, k, 100, 0.4)[0]))
    idx = np.asarray(draw(jax.random.split(jax.random.key(0), 1000))).ravel()
    counts = np.bincount(idx, minlength=16)
    assert counts[10:].sum() == 0 and counts[0] == 0 and counts[8] == 0  # never an empty or zero-priority leaf
    live = p > 0
    expected = p[live] / p.sum() * idx.size
    assert scipy.stats.chisquare(counts[:10][live], expected).pvalue > 1e-3
    # A uniform draw would be refuted at once: the test can tell.
    assert scipy.stats.chisquare(np.full(live.sum(), idx.size / live.sum()), expected).pvalue < 1e-3


def test_importance_weights_have_their_known_values():
    p = np.array([1.0, 2.0, 4.0, 1.0], np.float32)  # P = [1/8, 2/8, 4/8, 1/8], N = 4
    buf = filled(4, 4, p)
    idx, w = rb.sample_prioritized(buf, jax.random.key(3), 64, 0.5)
    prob = p[np.asarray(idx)] / p.sum()
    raw = (4 * prob) ** -0.5
    np.testing.assert_allclose(np.asarray(w), raw / raw.max(), rtol=1e-6)
    np.testing.assert_allclose(np.unique(np.asarray(w)), [0.5, np.sqrt(0.5), 1.0], rtol=1e-6)  # (N P)^-1/2 / max
    _, w1 = rb.sample_prioritized(buf, jax.random.key(3), 64, 1.0)
    np.testing.assert_allclose(np.asarray(w1), (0.5 / (4 * prob)), rtol=1e-6)  # beta 1: (N P)^-1 / max
    _, w0 = rb.sample_prioritized(buf, jax.random.key(3), 64, 0.0)
    np.testing.assert_array_equal(np.asarray(w0), 1.0)  # beta 0: no correction


def test_update_then_sample_follows_the_new_priorities():
    buf = filled(8, 8)  # all at priority 1
    error = jnp.array([0.0, 0.0, 0.0, 7.0, 0.0, 0.0, 0.0, 0.0])
    buf = rb.set_priorities(buf, jnp.arange(8), rb.priority(error, alpha=1.0, eps=1e-3))
    idx, _ = rb.sample_prioritized(buf, jax.random.key(0), 1000, 0.4)
    share = float(np.mean(np.asarray(idx) == 3))
    assert share == pytest.approx(7.001 / (7.001 + 7 * 0.001), abs=2e-3)  # nearly all draws go to the big error
    assert float(buf.max_priority) == pytest.approx(7.001)
    np.testing.assert_allclose(rb.priority(jnp.array([0.0, 3.0]), 0.5, 1.0), [1.0, 2.0])  # (e + eps)^alpha


def test_alpha_zero_is_uniform_replay():
    buf = filled(4, 4)
    buf = rb.set_priorities(buf, jnp.arange(4), rb.priority(jnp.array([0.0, 1.0, 5.0, 100.0]), 0.0, 1e-6))
    idx, w = rb.sample_prioritized(buf, jax.random.key(1), 4000, 0.4)
    np.testing.assert_allclose(np.bincount(np.asarray(idx), minlength=4) / 4000, 0.25, atol=1e-3)  # stratified
    np.testing.assert_array_equal(np.asarray(w), 1.0)


def test_the_learner_writes_the_updates_errors_as_priorities_and_keeps_them_when_it_rejects_the_update():
    from offpolicy.agents import dqn
    from offpolicy.agents.base import EnvSpec, Prioritized
    from offpolicy.config import DQNConfig
    from offpolicy.loops.learner import draw_batch, init_carry, learner_step

    cfg = DQNConfig(prioritized=True, batch_size=8, buffer_size=64, hidden_sizes=(8,))
    agent = dqn.make(cfg, EnvSpec((3,), 1, 2))._replace(prioritized=Prioritized(0.5, 0.4, 100, 0.01))
    carry = init_carry(agent, 64, jax.random.key(0))
    carry = carry.replace(buffer=rb.add(carry.buffer, batch_of(list(range(20))).replace(
        action=jnp.arange(20) % 2)))
    one = batch_of([20]).replace(action=jnp.zeros(1, jnp.int32))
    step = jax.jit(lambda c: learner_step(agent, 8, c, one, one.next_obs, jnp.zeros(1, bool), jnp.int32(21),
                                          True, False)[0])

    def expected(c):  # the learner's own draw and update, redone
        _, sample_key, update_key, _ = jax.random.split(c.key, 4)
        buffer = rb.add(c.buffer, one)
        idx, batch = draw_batch(agent, buffer, sample_key, 8, jnp.int32(21))
        assert batch.weight is not None
        return buffer, idx, agent.update(c.agent, batch, update_key)[1]["priority"]

    buffer, idx, error = jax.jit(expected)(carry)  # one program, not one per operation
    after = step(carry)
    np.testing.assert_allclose(rb.priority_at(after.buffer, idx), (error + 0.01) ** 0.5, rtol=1e-5)
    untouched = np.setdiff1d(np.arange(64), np.asarray(idx))
    np.testing.assert_array_equal(rb.priority_at(after.buffer, untouched), rb.priority_at(buffer, untouched))
    assert len(set(np.asarray(rb.priority_at(after.buffer, idx)).tolist())) > 1  # differs from the max priority 1

    # A NaN parameter makes the update non-finite: it is rejected and the drawn transitions keep their priorities.
    bad = carry.replace(agent=carry.agent.replace(params=jax.tree.map(lambda x: x * jnp.nan, carry.agent.params)))
    rejected = step(bad)
    assert int(rejected.bad_updates) == 1
    np.testing.assert_array_equal(rejected.buffer.tree, rb.add(bad.buffer, one).tree)
    assert float(rejected.buffer.max_priority) == 1.0
