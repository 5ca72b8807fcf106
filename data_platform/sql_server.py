"""`codemill sql-server`: one Spark session serving the lake to BI tools and remote notebooks.

Spark Connect (gRPC; `SparkSession.builder.remote("sc://host:port")`, Spark's own clients)
runs as a plugin of the session, and the Thrift JDBC/ODBC server (HiveThriftServer2; DBeaver,
Superset, beeline over `jdbc:hive2://host:port/default`) is started on the same session, so
both see the same catalog. Both jars ship in the pinned pyspark wheel.

Restricted tables (contracts with ``restricted: true``) are not named in the server's
catalog and ``delta.`/path``` queries are disabled unless the server is started with
``allow_restricted``. That keeps them out of reach of SQL typed into a BI tool; it is not a
boundary against a Spark Connect client that reads files through the DataFrame API: the
storage permission of the account running the server is (docs/security.md).
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

from data_platform.config import PlatformConfig

log = logging.getLogger(__name__)

CONNECT_PLUGIN = "org.apache.spark.sql.connect.SparkConnectPlugin"
THRIFT_SERVER = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"
TOKEN_ENV = "CODEMILL_SQL_SERVER_TOKEN"


class ServerConfigError(ValueError):
    """A server setting that would expose the lake more than asked: refused before anything starts."""


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    connect_port: int = 15002
    thrift_port: int | None = 10000  # None: no Thrift server
    allow_restricted: bool = False
    token: str | None = None  # Spark Connect bearer token


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server_conf(config: PlatformConfig, settings: ServerSettings) -> dict[str, str]:
    """Spark settings of the server session; refuses an unauthenticated listener off loopback."""
    user_conf = config.spark.conf
    if not _is_loopback(settings.host):
        if not settings.token:
            raise ServerConfigError(f"binding Spark Connect to {settings.host} needs a token (set {TOKEN_ENV})")
        thrift_auth = user_conf.get("spark.hadoop.hive.server2.authentication", "NONE").upper()
        if settings.thrift_port is not None and thrift_auth in ("NONE", "NOSASL"):
            raise ServerConfigError(
                f"the Thrift server on {settings.host} would accept any user: set "
                "spark.conf.spark.hadoop.hive.server2.authentication (LDAP, KERBEROS, CUSTOM) or pass --no-thrift")
    conf = {
        # Its own in-memory catalog: the lake's Derby metastore stays free for other commands,
        # and only the tables named below exist for clients.
        "spark.sql.catalogImplementation": "in-memory",
        "spark.plugins": CONNECT_PLUGIN,
        "spark.connect.grpc.binding.address": settings.host,
        "spark.connect.grpc.binding.port": str(settings.connect_port),
        "spark.hadoop.hive.server2.thrift.bind.host": settings.host,
        "spark.hadoop.hive.server2.thrift.port": str(settings.thrift_port or 0),
        "spark.ui.enabled": "false",
        # JDBC connections share the server's session: a new session per connection is built
        # by Hive's class loader, which does not see the Delta jars that spark.jars.packages
        # loaded (ClassNotFoundException: DeltaCatalog). Temp views and USE are thus shared.
        "spark.sql.hive.thriftServer.singleSession": "true",
    }
    if settings.token:
        conf["spark.connect.authenticate.token"] = settings.token
    if not settings.allow_restricted:
        # `SELECT * FROM delta.`/lake/restricted/bronze/file_contents`` would bypass the catalog: no SQL on paths.
        conf["spark.sql.runSQLOnFiles"] = "false"
    return conf


def exposed_tables(config: PlatformConfig, allow_restricted: bool) -> dict[str, str]:
    """Contract tables on disk that the server names (restricted ones only when allowed)."""
    from data_platform.contracts import all_contracts
    from data_platform.lake import is_delta_table

    return {name: str(config.lake.table_path(name)) for name, table in all_contracts().items()
            if is_delta_table(config.lake.table_path(name)) and (allow_restricted or not table.restricted)}


def name_new_tables(spark, config: PlatformConfig, allow_restricted: bool, named: set[str]) -> list[str]:
    """Name the exposed tables not in ``named`` yet (adding them to it); returns those named now.

    Called at start and then periodically by `codemill sql-server`, so a table first written
    after the server started (the first ingest, an evaluation's ops rows) answers by name
    without a restart. A table that cannot be named is logged and tried again next time.
    """
    from data_platform.contracts import contract
    from data_platform.lake import register_in_catalog

    added = []
    for name, path in exposed_tables(config, allow_restricted).items():
        if name in named:
            continue
        try:
            register_in_catalog(spark, contract(name), path)
        except Exception as err:  # one unreadable table must not stop the server or the others
            log.warning("cannot name %s: %s", name, str(err).splitlines()[0])
            continue
        named.add(name)
        added.append(name)
    return added


def start_server(config: PlatformConfig, settings: ServerSettings, verbose: bool = False):
    """Start the session, name the exposed tables, start the Thrift server; returns the session."""
    from data_platform.spark import start_session

    conf = server_conf(config, settings)
    server_config = config.model_copy(deep=True)
    server_config.spark.conf = {**config.spark.conf, **conf}
    spark = start_session(server_config, catalog="in-memory", verbose=verbose)
    name_new_tables(spark, config, settings.allow_restricted, set())
    if settings.thrift_port is not None:
        jvm = spark._jvm
        # Same session, same catalog: a JDBC client sees what a Connect client sees.
        getattr(jvm, THRIFT_SERVER).startWithContext(spark._jsparkSession.sqlContext())
    return spark
