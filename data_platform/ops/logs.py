"""Quiet by default: engine logs go to a run log file under the lake; ``--verbose`` shows them.

A run's console is its progress lines and results. Everything the engines say on their own
(Ray's INFO and warning lines, DeepSpeed, transformers' loading bars, py4j, Great
Expectations) is written to ``<lake>/_logs/<command>-<time>.log`` instead; ``--verbose``
puts it back on the console. Spark's JVM output has its own file next to it
(:mod:`data_platform.spark`).

Two halves, because engines run in other processes too:

- :func:`configure_logging` sets up this process's logging (console + run log file);
- :func:`quiet_engine_env` is the environment that silences progress bars and verbosity in
  processes the engines start (Ray workers get it through their runtime env, and
  :func:`quiet_worker_logging` is their setup hook).
"""

from __future__ import annotations

import atexit
import contextlib
import io
import logging
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

# Loggers of the engines: WARNING and below go to the run log only, unless verbose.
ENGINE_LOGGERS = (
    "py4j", "pyspark", "ray", "deepspeed", "DeepSpeed", "transformers", "torch", "accelerate",
    "great_expectations", "urllib3", "filelock", "httpx", "httpcore", "asyncio", "fsspec", "py.warnings",
)
# Engines whose INFO records are worth keeping in the run log. The others (torch, transformers,
# DeepSpeed) keep their own levels: they install console handlers of their own at import, and
# raising their level would make those print INFO lines (torch logs stats from exit handlers).
INFO_TO_RUN_LOG = ("py4j", "pyspark", "ray", "great_expectations")
# PySpark logs every failed query as a JSON record with the JVM stack trace before raising;
# the CLI prints the error itself, in one line.
QUERY_CONTEXT_LOGGERS = ("SQLQueryContextLogger", "DataFrameQueryContextLogger")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
CONSOLE_FORMAT = "%(levelname)s %(name)s: %(message)s"
_FILE_HANDLER_NAME = "codemill-run-log"
VERBOSE_ENV = "CODEMILL_VERBOSE"  # "1" when --verbose: read by engine processes (Ray workers)
# Progress lines printed in engine processes (a Ray Train worker's step lines) start with this
# mark; the driver shows those lines (mark removed) and sends every other engine line to the log.
PROGRESS_MARK = "[codemill] "


def is_verbose() -> bool:
    return os.environ.get(VERBOSE_ENV) == "1"


def progress_print(text: str) -> None:
    """Print a progress line from an engine process so the driver shows it even when quiet."""
    print(PROGRESS_MARK + text, flush=True)


def quiet_engine_env(verbose: bool) -> dict[str, str]:
    """Environment variables that keep engine processes from drawing progress bars and chatter."""
    if verbose:
        return {}
    return {
        "TQDM_DISABLE": "1",  # every tqdm bar (model loading, GGUF dequantisation, DeepSpeed)
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "TRANSFORMERS_VERBOSITY": "error",
        "RAY_DATA_DISABLE_PROGRESS_BARS": "1",
        "RAY_DEDUP_LOGS": "1",
        "PYTHONWARNINGS": "ignore",  # library deprecation warnings; our own problems are log records
    }


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the record, not at creation.

    A handler bound to the stream of its day writes into a closed stream once that is swapped
    (test capture, an embedding program), e.g. when a library logs from an exit handler.
    """

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


class _EngineChatter(logging.Filter):
    """On the console, drop engine records below ERROR (they are in the run log file)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            return True
        return not any(record.name == name or record.name.startswith(name + ".") for name in ENGINE_LOGGERS)


def configure_logging(verbose: bool) -> None:
    """Console logging for this process: our warnings always, engine lines only when verbose."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "codemill_console", False)]:
        root.removeHandler(handler)
    console = _CurrentStderr()
    console.codemill_console = True  # type: ignore[attr-defined]
    console.setFormatter(logging.Formatter(CONSOLE_FORMAT))
    console.setLevel(logging.INFO if verbose else logging.WARNING)
    if not verbose:
        console.addFilter(_EngineChatter())
    root.addHandler(console)
    root.setLevel(logging.INFO)  # records reach the run log file; the console handler filters
    for name in INFO_TO_RUN_LOG:
        logging.getLogger(name).setLevel(logging.INFO)
    for name in QUERY_CONTEXT_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.CRITICAL)
    os.environ.update(quiet_engine_env(verbose))
    os.environ[VERBOSE_ENV] = "1" if verbose else "0"
    logging.captureWarnings(not verbose)  # library warnings become py.warnings records (run log)
    if not verbose:
        _quiet_libraries_already_imported()
        route_engine_loggers_to_root()  # engines imported before us (Ray) brought their own handlers


def route_engine_loggers_to_root() -> None:
    """Engines that install their own console handlers (Ray, DeepSpeed) log through ours instead.

    Called after such an engine is imported; a no-op when verbose (their own output is wanted).
    Their records then reach the run log file, and the console only at ERROR.
    """
    if is_verbose():
        return
    for name in list(logging.Logger.manager.loggerDict):
        if not any(name == engine or name.startswith(engine + ".") for engine in ENGINE_LOGGERS):
            continue
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if isinstance(handler, logging.StreamHandler) and getattr(handler, "stream", None) in (
                sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__
            ):
                logger.removeHandler(handler)
        logger.propagate = True


class _LogWriter(io.TextIOBase):
    """A text stream whose complete lines become INFO records of one logger."""

    def __init__(self, logger: logging.Logger):
        self._logger, self._pending = logger, ""

    def write(self, text: str) -> int:
        lines = (self._pending + text).replace("\r", "\n").split("\n")
        self._pending = lines.pop()
        for line in lines:
            if line.strip():
                self._logger.info(line)
        return len(text)

    def flush(self) -> None:
        if self._pending.strip():
            self._logger.info(self._pending)
        self._pending = ""


@contextlib.contextmanager
def engine_output_to_log(name: str) -> Iterator[None]:
    """While the block runs, what libraries print (DeepSpeed's checkpoint conversion chatter, tqdm)
    goes to the run log under logger ``name`` instead of the console; unchanged when verbose."""
    if is_verbose():
        yield
        return
    writer = _LogWriter(logging.getLogger(name))
    with contextlib.redirect_stdout(writer), contextlib.redirect_stderr(writer):
        try:
            yield
        finally:
            writer.flush()


def _quiet_libraries_already_imported() -> None:
    """Environment variables are read at import; a library imported earlier is told directly."""
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()


def run_log_path(lake_root: Path, command: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Path(lake_root) / "_logs" / f"{command}-{stamp}-{os.getpid()}.log"


def attach_run_log(lake_root: Path, command: str) -> Path | None:
    """Write every log record of this process (engines included) to a run log file under the lake.

    Returns its path, or None when the lake is not a local directory we can write (an object
    store root): the console still shows our own warnings and errors.
    """
    root = logging.getLogger()
    log_dir = Path(lake_root) / "_logs"
    for handler in [h for h in root.handlers if h.get_name() == _FILE_HANDLER_NAME]:
        current = Path(handler.baseFilename)  # type: ignore[attr-defined]
        if current.parent == log_dir and current.name.startswith(f"{command}-"):
            return current  # once per process and command
        root.removeHandler(handler)  # another lake or command in the same process (tests, embedding)
        handler.close()
    path = run_log_path(lake_root, command)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8", delay=True)
    except OSError:
        return None
    handler.set_name(_FILE_HANDLER_NAME)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.setLevel(logging.INFO)
    root.addHandler(handler)
    return path


_PUBLISHED: set[Path] = set()


def attach_lake_run_log(lake, command: str) -> Path | None:
    """:func:`attach_run_log` for a lake's settings (``LakeSettings``).

    A logging file handler writes local files only: a remote lake's run log is written in the
    lake's cache folder on this machine and copied to ``<lake>/_logs/`` when the process ends.
    """
    path = attach_run_log(lake.local_dir, command)
    if path is not None and lake.remote and path not in _PUBLISHED:
        _PUBLISHED.add(path)
        # pyarrow.fs finalises its S3 client in an exit handler of its own, registered when it is
        # first imported; exit handlers run last-registered first, so import it before ours.
        import pyarrow.fs  # noqa: F401

        atexit.register(_publish_log, path, lake.root / "_logs" / path.name)
    return path


def _publish_log(path: Path, target) -> None:
    from data_platform.storage import write_bytes

    try:
        if path.exists():
            write_bytes(target, path.read_bytes())
    except Exception as err:  # noqa: BLE001 - the process is ending; the local copy stays
        print(f"codemill: run log not copied to {target}: {err}", file=sys.stderr)


def quiet_worker_logging() -> None:
    """Setup hook of every Ray worker process (``runtime_env.worker_process_setup_hook``).

    Workers print the training progress lines the driver shows; what the engines log in them
    stays at ERROR unless ``CODEMILL_VERBOSE=1`` (set by :func:`configure_logging` from ``--verbose``). Ray
    keeps each worker's full output in its session log directory either way.
    """
    verbose = is_verbose()
    logging.captureWarnings(not verbose)
    for name in ENGINE_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.ERROR)
    # The placement-group cleaner's state-API polls time out on a busy small machine and warn
    # every few seconds; the cleanup itself still happens.
    logging.getLogger("ray.train.v2._internal.execution.controller.placement_group_cleaner").setLevel(logging.ERROR)
    if not verbose:
        _quiet_libraries_already_imported()
