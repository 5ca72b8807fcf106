"""`codemill sql-server`: Spark Connect and the Thrift JDBC server over the lake's tables."""

from __future__ import annotations

import os
import signal
import threading

import typer

from codemill.cli.context import STATE, fail


def sql_server(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface both servers bind. Off loopback, Spark "
                             "Connect needs a token (CODEMILL_SQL_SERVER_TOKEN) and Thrift an authentication mode."),
    connect_port: int = typer.Option(15002, "--connect-port", help="Spark Connect (gRPC) port."),
    thrift_port: int = typer.Option(10000, "--thrift-port", help="Thrift JDBC/ODBC port (jdbc:hive2://HOST:PORT)."),
    no_thrift: bool = typer.Option(False, "--no-thrift", help="Start Spark Connect only."),
    refresh_seconds: int = typer.Option(
        30, "--refresh-seconds", min=0,
        help="Look for tables written since the server started this often and name them (0: only at start).",
    ),
    allow_restricted: bool = typer.Option(
        False, "--allow-restricted",
        help="Name restricted tables (bronze.file_contents, gold.quarantine) and allow SQL on paths. Off by default; the "
        "real boundary is who may read their storage (docs/security.md).",
    ),
) -> None:
    """Serve the lake's tables to BI tools (DBeaver, Superset over JDBC) and Spark Connect clients.

    Runs until Ctrl-C. One Spark session with its own in-memory catalog (the lake's metastore
    stays free for other commands); every contract table on disk is named (bronze.repos,
    silver.files, …) except restricted ones unless --allow-restricted. Connect with
    SparkSession.builder.remote("sc://127.0.0.1:15002") or jdbc:hive2://127.0.0.1:10000/default.
    """
    from data_platform.sql_server import (
        TOKEN_ENV,
        ServerConfigError,
        ServerSettings,
        exposed_tables,
        name_new_tables,
        start_server,
    )

    settings = ServerSettings(host=host, connect_port=connect_port, thrift_port=None if no_thrift else thrift_port,
                              allow_restricted=allow_restricted, token=os.environ.get(TOKEN_ENV) or None)
    try:
        spark = start_server(STATE.config, settings, verbose=STATE.verbose)
    except ServerConfigError as err:
        fail(str(err))
    tables = sorted(exposed_tables(STATE.config, allow_restricted))
    typer.echo(f"Spark Connect: sc://{host}:{connect_port}{'/;token=…' if settings.token else ''}")
    if not no_thrift:
        typer.echo(f"Thrift JDBC:   jdbc:hive2://{host}:{thrift_port}/default")
    typer.echo(f"tables: {', '.join(tables) or '(none yet: run codemill ingest)'}")
    typer.echo("ready (Ctrl-C to stop)", err=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    named, waited = set(tables), 0.0
    try:
        while not stop.wait(1.0):
            waited += 1.0
            if refresh_seconds and waited >= refresh_seconds:
                waited = 0.0
                added = name_new_tables(spark, STATE.config, allow_restricted, named)
                if added:
                    typer.echo(f"tables named: {', '.join(sorted(added))}")
    except KeyboardInterrupt:
        pass
    spark.stop()


def register(app: typer.Typer) -> None:
    app.command("sql-server")(sql_server)
