"""A real Spark standalone cluster (master + two workers on 127.0.0.1) runs a codemill job.

The cluster comes from tests/fixtures/spark_cluster.py, the same start/stop code the S3 chain
(tests/integration/test_lake_s3.py) submits its ingest to.
"""

import subprocess
import sys
from pathlib import Path

import pytest
from deltalake import DeltaTable

from tests.fixtures.spark_cluster import cluster_env, standalone_cluster

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def test_job_submitted_to_standalone_cluster_writes_delta(tmp_path):
    env = cluster_env(tmp_path)
    table = tmp_path / "numbers"
    with standalone_cluster(tmp_path, workers=2, cores=1, env=env) as cluster:
        job = subprocess.run(
            [sys.executable, "-m", "codemill.cli.main", "submit", str(REPO / "tests/integration/jobs/write_numbers.py"),
             "--", "--table", str(table), "--rows", "500",
             f"spark.master={cluster.master_url}", f"lake.root={tmp_path / 'lake'}", "spark.driver_memory=1g"],
            env=env, capture_output=True, text=True, timeout=300,
        )
        assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-3000:]
        assert f"master={cluster.master_url} rows=500" in job.stdout
        # Both workers really ran an executor for this application.
        assert len({log.parent.parent for log in cluster.executor_logs()}) == 1
        assert len(cluster.executor_logs()) == 2

    assert all(process.poll() is not None for process in cluster.processes)  # all stopped
    rows = DeltaTable(str(table)).to_pyarrow_table().sort_by("id")
    assert rows.num_rows == 500 and rows.column("square").to_pylist()[-1] == 499 * 499
