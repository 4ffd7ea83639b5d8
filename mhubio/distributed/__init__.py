"""Running the per-series task of :mod:`mhubio.core.execution` on a distributed engine.

Only Dask distributed is supported (``pip install 'mhubio[dask]'``): see :mod:`mhubio.distributed.dask_engine`.
"""
