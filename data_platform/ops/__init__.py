"""Run records: what every job (ingest, quality, training, evaluation, serving) writes to ``ops.*``.

- :mod:`data_platform.ops.runs`: run ids, the code version a run records, stage timings and
  :class:`~data_platform.ops.runs.LineageError` (a run refused for the data it asked for);
- :mod:`data_platform.ops.records`: contract rows to Arrow, append / upsert / read of ``ops.*``
  tables through delta-rs (no Spark, so Ray workers and plain processes record runs too);
- :mod:`data_platform.ops.logs`: where engine logs go (a run log file under the lake unless
  ``--verbose``);
- :mod:`data_platform.ops.crashpoints`: named boundaries where tests kill a job for real.

Nothing here imports pyarrow or deltalake at import time except ``records``: ``runs`` is
imported by the CLI's ``--version`` and must stay light.
"""
