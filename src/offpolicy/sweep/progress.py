"""One progress bar for a whole sweep: environment steps of all trials, trials done / running / failed, ETA.

It reads the sweep directory (each running trial's metrics.csv, each finished one's summary.json or error.txt), so it
works the same for local worker processes and Ray trials, and costs the trials nothing."""

from __future__ import annotations

from pathlib import Path

from offpolicy.sweep import store


class SweepProgress:
    def __init__(self, sweep_dir: Path, trials: list, enabled: bool = True):
        """``trials``: the trials this session runs (spec Trials)."""
        from tqdm.auto import tqdm

        self.sweep_dir = Path(sweep_dir)
        self.trials = {t.id: t for t in trials}
        self.total_steps = {t.id: t.config.total_steps for t in trials}
        self.final: dict[str, str] = {}  # trial id -> done / failed, once seen
        self.running: set[str] = set()
        self.enabled = enabled
        self._tqdm = tqdm
        self.bar = tqdm(total=sum(self.total_steps.values()), initial=self._steps(), unit="step", unit_scale=True,
                        dynamic_ncols=True, disable=None if enabled else True, mininterval=0.5, smoothing=0.05,
                        desc=self._desc())

    def _steps(self) -> int:
        total = 0
        for trial_id, trial in self.trials.items():
            if self.final.get(trial_id) == store.DONE:
                total += self.total_steps[trial_id]
            else:
                total += min(store.last_step(trial.run_dir(self.sweep_dir)), self.total_steps[trial_id])
        return total

    def _desc(self) -> str:
        done = sum(s == store.DONE for s in self.final.values())
        failed = sum(s == store.FAILED for s in self.final.values())
        return f"trials {done}/{len(self.trials)} done, {len(self.running)} running, {failed} failed"

    def started(self, trial_ids: list[str]) -> None:
        self.running.update(trial_ids)
        for trial_id in trial_ids:
            self.final.pop(trial_id, None)  # a retry
        self.refresh()

    def ended(self, trial_id: str, state: str, note: str = "") -> None:
        """A trial ended (done or failed): one line above the bar."""
        self.running.discard(trial_id)
        if self.final.get(trial_id) == state:
            return
        self.final[trial_id] = state
        self._tqdm.write(f"  {state:6s} {trial_id}" + (f": {note}" if note else ""))
        self.refresh()

    def poll(self) -> None:
        """Pick up trials that ended (their files say so), then refresh."""
        for trial_id in list(self.running):
            run_dir = self.trials[trial_id].run_dir(self.sweep_dir)
            state = store.trial_state(run_dir)
            if state in (store.DONE, store.FAILED):
                self.ended(trial_id, state, describe(run_dir, state))
        self.refresh()

    def refresh(self) -> None:
        self.bar.n = self._steps()
        self.bar.set_description(self._desc(), refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        self.refresh()
        self.bar.close()


def describe(run_dir: Path, state: str) -> str:
    """A finished trial's final evaluation and wall time, or a failed one's error."""
    import json

    if state == store.FAILED:
        return store.read_error(run_dir)
    try:
        summary = json.loads((Path(run_dir) / "summary.json").read_text())
        return f"final eval {summary['final_eval']['mean']:.1f}, {summary['wall_time_s']:.0f} s"
    except (OSError, ValueError, KeyError):
        return ""
