"""The lake on an S3 endpoint (moto in server mode): the chain with no local lake directory.

One S3 server for the module, started from ``.venv/bin/moto_server`` on a free port, and one
Spark standalone cluster on loopback (a master and two workers, tests/fixtures/spark_cluster.py).
The chain runs as the CLI runs it, in child processes that get only the standard AWS
environment variables and ``lake.root=s3://…``: `codemill submit jobs/ingest.py` to the
cluster (crawl → curate → refine → gate → publish; hadoop-aws shipped to the executors, its AWS
SDK bundle node-local as on a cluster image, decision 0185),
then `codemill sql`, answered by the DuckDB fast path over delta-rs' snapshot of the S3 tables
(time travel included) and, with ``--engine spark``, by Spark over S3A with the catalog rebuilt
from the lake. Every place a local directory could appear (the working directory, the temp
folder with the cluster's work folders, the repository) is checked for one named after the
bucket or the URI.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from data_platform import lake_lock, storage
from data_platform.config import load_config
from data_platform.publication import latest_published_version
from tests.fixtures.repos import package_repo
from tests.fixtures.s3 import list_keys, moto_endpoint
from tests.fixtures.spark_cluster import cluster_env, standalone_cluster
from tests.fixtures.writer_lock import lock_held_elsewhere

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(3000)]

REPO_ROOT = Path(__file__).resolve().parents[2]
BUCKET = "codemill-s3-lake"


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    """A moto S3 server with one bucket; yields the AWS environment that reaches it."""
    with moto_endpoint(tmp_path_factory.mktemp("moto"), BUCKET) as endpoint:
        yield endpoint


@pytest.fixture()
def aws_env(s3_endpoint, monkeypatch):
    env, client = s3_endpoint
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env, client


def _keys(client, prefix: str) -> list[str]:
    return list_keys(client, BUCKET, prefix)


def _named_after_the_lake(*roots: Path) -> list[Path]:
    """Local paths a URI-as-path bug would create: 's3:', the bucket name, the lake's prefix."""
    suspects = {"s3:", "s3", BUCKET, "chain-lake"}
    found = []
    for root in roots:
        for path in root.rglob("*"):
            if path.name in suspects:
                found.append(path)
    return found


def _chain_env(tmp_path: Path, env_aws: dict[str, str]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "CODEMILL_LAKE"}
    # SPARK_LOCAL_IP: the driver binds to loopback like the cluster it submits to.
    env.update(env_aws, HOME=str(tmp_path / "home"), PYTHONPATH=str(REPO_ROOT), SPARK_LOCAL_IP="127.0.0.1")
    (tmp_path / "home").mkdir()
    # Jars come from this machine's Ivy cache, not from a fresh download into the test HOME.
    for ivy in Path.home().glob(".ivy2*"):
        (tmp_path / "home" / ivy.name).symlink_to(ivy)
    return env


def _json_documents(text: str) -> list:
    """The JSON arrays `codemill sql --format json` prints, one per statement."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while text[at:].strip():
        value, at = decoder.raw_decode(text, at + len(text[at:]) - len(text[at:].lstrip()))
        found.append(value)
    return found


def _node_local_sdk_bundle() -> Path:
    """The AWS SDK bundle hadoop-aws names (its Ivy descriptor), as Ivy cached it on this machine."""
    from data_platform.spark import hadoop_version

    for ivy in sorted(Path.home().glob(".ivy2*")):
        descriptor = ivy / "cache" / "org.apache.hadoop" / "hadoop-aws" / f"ivy-{hadoop_version()}.xml"
        found = descriptor.is_file() and re.search(
            r'<dependency org="software\.amazon\.awssdk" name="bundle" rev="([^"]+)"', descriptor.read_text())
        if found and (jar := ivy / "jars" / f"software.amazon.awssdk_bundle-{found.group(1)}.jar").is_file():
            return jar
    raise AssertionError("hadoop-aws's AWS SDK bundle is not in the Ivy cache (scripts/bootstrap.sh resolves it)")


def _submit_ingest(codemill, cluster, sources, tmp_path: Path):
    """`codemill submit jobs/ingest.py` to the standalone cluster; both workers run executors."""
    # Delta reads its log into 50 partitions by default; on two loopback cores that is most of
    # the run (the same setting local masters get, data_platform/spark.py), so set it here.
    # The AWS SDK bundle (686 MB) is node-local, as on a cluster image that bakes it in (decision
    # 0185): excluded from what Spark ships and put on the driver's and executors' class path.
    # Shipping copied it into each executor's work folder (1.5 GB of work folders per run);
    # hadoop-aws and Delta still reach the executors through `codemill submit`'s --packages.
    bundle = _node_local_sdk_bundle()
    config = tmp_path / "cluster.yaml"
    config.write_text("spark:\n  conf:\n    spark.databricks.delta.snapshotPartitions: '2'\n"
                      "    spark.jars.excludes: software.amazon.awssdk:bundle\n"
                      f"    spark.driver.extraClassPath: '{bundle}'\n    spark.executor.extraClassPath: '{bundle}'\n")
    done = codemill("submit", str(REPO_ROOT / "jobs" / "ingest.py"), "--config", str(config), "--",
                    *(arg for source in sources for arg in ("--source", str(source))), "--run-id", "s3-chain",
                    f"spark.master={cluster.master_url}")
    executors = cluster.executor_logs()
    assert len(executors) == 2 and len({log.parent.parent for log in executors}) == 1, executors
    # Executors fetched hadoop-aws from the driver (what --packages ships), never the bundle.
    shipped = {path.name for log in executors for path in log.parent.iterdir() if path.suffix == ".jar"}
    assert any(name.startswith("org.apache.hadoop_hadoop-aws-") for name in shipped), shipped
    assert not any("awssdk_bundle" in name for name in shipped), shipped
    return done


def test_chain_runs_with_the_lake_on_s3_and_no_local_lake(aws_env, tmp_path):
    # long: one chain (submit to the cluster → published gold → SQL on both engines → no local lake)
    env_aws, client = aws_env
    sources = [package_repo(tmp_path / "src" / "alpha", "mdurl"), package_repo(tmp_path / "src" / "beta", "iniconfig")]
    work, cache = tmp_path / "work", tmp_path / "cache"
    work.mkdir()
    root = f"s3://{BUCKET}/teams/chain-lake"
    overrides = [f"lake.root={root}", f"lake.cache_dir={cache}", "spark.shuffle_partitions=2",
                 "quality.report_profile=false"]
    env = _chain_env(tmp_path, env_aws)

    # Generous limits: on a shared 2-core machine the ingest alone has taken 8-15 minutes.
    def codemill(*args: str, timeout: int = 2000) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "codemill.cli.main", *args, *overrides], cwd=work, env=env,
                              capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done

    # The cluster's nodes have the lake's credentials in their environment, as real nodes would.
    with standalone_cluster(tmp_path / "spark", workers=2, cores=1, env=cluster_env(tmp_path / "spark", env)) as cluster:
        _submit_ingest(codemill, cluster, sources, tmp_path)

    config = load_config(overrides=overrides, environ={})
    published = latest_published_version(config)
    assert published is not None, "the gold version did not pass its gate"
    gold = storage.delta_table(config.lake.table_path("gold.training_corpus"), version=published.table_version)
    gold_rows = gold.to_pyarrow_table(columns=["repo_id"]).num_rows
    assert gold_rows > 0
    keys = _keys(client, "teams/chain-lake/")
    for table in ("bronze/files", "silver/files", "gold/training_corpus", "ops/quality_results", "ops/ingest_runs"):
        assert any(key.startswith(f"teams/chain-lake/{table}/_delta_log/") for key in keys), table
    assert any(key.startswith("teams/chain-lake/_quality/reports/") for key in keys)  # report, through the seam
    assert any(key.startswith("teams/chain-lake/_quality/gx/") for key in keys)  # GE stores and Data Docs
    assert any(key.startswith("teams/chain-lake/_logs/ingest-") for key in keys)  # the run log
    assert "teams/chain-lake/_locks/writer.json" not in keys  # the writer released the lake at exit

    # The DuckDB fast path answers on S3 (delta-rs reads the snapshot with the lake's storage
    # options, DuckDB queries its Arrow dataset), time travel included; Spark agrees over S3A.
    query = (f"SELECT count(*) AS n FROM gold.training_corpus VERSION AS OF {published.table_version}; "
             "SELECT count(*) AS n FROM silver.files VERSION AS OF 0")
    silver_v0 = storage.delta_table(config.lake.table_path("silver.files"), version=0).to_pyarrow_table(columns=["path"])
    expected = [{"n": gold_rows}, {"n": silver_v0.num_rows}]
    fast = codemill("sql", query, "--format", "json", "--verbose", timeout=600)
    assert _json_documents(fast.stdout) == [[row] for row in expected]
    assert "engine: duckdb" in fast.stderr
    on_spark = codemill("sql", query, "--format", "json", "--verbose", "--engine", "spark", timeout=900)
    assert on_spark.stdout == fast.stdout
    restricted = subprocess.run([sys.executable, "-m", "codemill.cli.main", "sql", "SELECT count(*) FROM bronze.file_contents",
                                 *overrides], cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert restricted.returncode != 0 and "restricted" in restricted.stderr

    # Nothing local is named after the lake: not where the commands ran, not in the temp
    # folder (the cluster's work folders included), not in the repository. The machine's own
    # files sit in the cache, under a hash.
    assert _named_after_the_lake(work, tmp_path, REPO_ROOT / "data_platform", REPO_ROOT / "codemill") == []
    assert not (REPO_ROOT / "s3:").exists()
    (lake_cache,) = (cache / "lakes").iterdir()
    assert (lake_cache / "_metastore").is_dir() and (lake_cache / "_quality" / "gx").is_dir()


@pytest.mark.parametrize("backend", ["s3", "object_store"])
def test_one_writer_per_s3_lake(aws_env, tmp_path, backend):
    """Both mechanisms against the same endpoint: boto3's conditional puts (``auto`` for s3://) and
    object_store's (``auto`` for gs:// and abfss://, which have no offline endpoint to test on)."""
    _, client = aws_env
    prefix = f"teams/lock-lake-{backend}"
    root = f"s3://{BUCKET}/{prefix}"
    more = [f"lake.root={root}", f"lake.writer_lock_backend={backend}"]
    config = load_config(overrides=[*more, f"lake.cache_dir={tmp_path / 'cache'}"], environ={})
    with lock_held_elsewhere(more) as holder:
        with pytest.raises(lake_lock.WriterLockHeld, match=r"ingest, pid \d+ .*one writer per lake"):
            lake_lock.hold(config, "refine")
        # Readers are never refused: a delta-rs read of the lake works while it is being written.
        assert storage.list_names(config.lake.root / "_locks") == ["writer.json"]
    assert holder.returncode == 0
    assert _keys(client, f"{prefix}/_locks/") == []  # released when the writer exited

    # A stale lock (its writer died) is taken over with a put conditional on its ETag.
    storage.write_text(config.lake.root / "_locks" / "writer.json",
                       json.dumps({"job": "crashed", "pid": 1, "host": "gone", "acquired_at": 0, "expires_at": 1}))
    try:
        lake_lock.hold(config, "refine")
        holder_row = json.loads(storage.read_text(config.lake.root / "_locks" / "writer.json"))
        assert (holder_row["job"], holder_row["pid"]) == ("refine", os.getpid())
    finally:
        lake_lock.release(config.lake.root)
    assert _keys(client, f"{prefix}/_locks/") == []
