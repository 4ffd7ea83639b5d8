"""Builders of small, real-format artefacts (model folders) for tests, demos and benchmarks.

Nothing here is used by a production run; the builders exist so that tests of any helper can create, in seconds
and offline, the exact on-disk formats that the runners read.
"""
