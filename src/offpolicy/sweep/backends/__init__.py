"""Where a sweep's trials run: :mod:`~offpolicy.sweep.backends.local` (worker processes on this machine) or
:mod:`~offpolicy.sweep.backends.ray` (Ray Tune trials). Both take the batches of :func:`offpolicy.sweep.plan.plan_batches`
and run each with :func:`offpolicy.sweep.worker.run_trial_batch`; both report through the sweep directory's files."""
