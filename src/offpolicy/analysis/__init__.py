"""Reading finished runs, statistics over seeds and figures: what `offpolicy train --seeds`, `offpolicy report` and
`offpolicy compare` share. Reads run directories only; imports nothing from ``offpolicy.run`` or ``offpolicy.sweep``.

- :mod:`~offpolicy.analysis.results`: a run directory's CSV files and summaries as arrays (``read_csv``,
  ``load_run``), groups of runs that differ only in seed;
- :mod:`~offpolicy.analysis.stats`: IQM and mean with bootstrap intervals, time to a return threshold, the analysis
  of one group;
- :mod:`~offpolicy.analysis.figures`: a run's learning curve, the multi-seed aggregate curve, the report's figures.
"""
