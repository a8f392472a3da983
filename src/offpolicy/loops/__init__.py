"""Training loops, all keeping one contract (``contract.Loop``) for 1..N seeds.

``host.HostLoop`` steps any Gymnasium env from Python (``gym_driver.GymDriver`` per seed); ``compiled.CompiledLoop``
runs a gymnax env and the agent in one jitted ``lax.scan`` per chunk. Both run the same ``learner.learner_step``.
"""
