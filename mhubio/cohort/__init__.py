"""Cohort runs: resumable runs (``mhub run --resume``) and the per-series state they rely on.

- :mod:`~mhubio.cohort.fingerprint`: what makes a series' outputs up to date (input and model fingerprints);
- :mod:`~mhubio.cohort.state`: the per-series state files in ``OUT_DIR/mhub_state/<model>/``;
- :mod:`~mhubio.cohort.resume`: choosing the series to run and recording each one as it finishes.
"""
