"""Builders of small, real-format artefacts for the tests, the demo model's training script and the benchmarks.

Nothing here is part of the installed ``mhubio`` package: tiny nnU-Net v1/v2 model folders, a Body Part Regression
model folder with random weights, the bad-input corpus and the file-confinement recorder exist so that tests can
create, in seconds and offline, the exact on-disk formats that the runners read.
"""
