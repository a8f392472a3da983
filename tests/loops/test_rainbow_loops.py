"""The loop tests of test_loops.py for DQN with every Rainbow part on (prioritized replay, C51, 3-step returns,
Double, dueling, NoisyNet per step): host = compiled on the deterministic env, priorities included, and a batched
seed (vmapped on the compiled loop, one of several on the host loop) = its single-seed run. In their own file (and
xdist group) so they run beside test_loops.py's group, not after it; in file order, each reuses the programs of the
one before (the single-seed host and compiled runs)."""

from test_loops import (
    RAINBOW,
    check_compiled_matches_host,
    check_multi_seed_host_equals_single,
    check_vmapped_equals_single,
)


def test_rainbow_compiled_loop_matches_host_loop_on_a_deterministic_env():
    check_compiled_matches_host(RAINBOW)


def test_rainbow_vmapped_seed_equals_single_seed_run():
    check_vmapped_equals_single(RAINBOW)


def test_rainbow_multi_seed_host_loop_seed_equals_single_host_run():
    check_multi_seed_host_equals_single(RAINBOW)
