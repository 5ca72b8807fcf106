"""`codemill serve`: start everything in order, serve until SIGINT/SIGTERM, then stop cleanly.

Order: API keys and bind address → event log (replays what a previous process left) →
model (resolved, loaded) → decoding engine → HTTP server. On shutdown: stop accepting,
let open responses finish (up to a grace period), stop the engine, flush events to Delta.
"""

from __future__ import annotations

import os

# The decoding loop runs torch in its own thread; OpenMP workers that spin-wait after the
# main thread's work (model loading) would otherwise steal its cores (measured: 15x slower
# steps on 2 cores). Must be set before torch initialises OpenMP.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import asyncio  # noqa: E402
import logging  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import replace  # noqa: E402

from serving.api.security import Authenticator, RateLimiter, bind_host, configured_keys  # noqa: E402
from serving.config import CodemillConfig  # noqa: E402
from serving.metrics import ServeMetrics  # noqa: E402

log = logging.getLogger(__name__)
GRACE_SECONDS = 10


class ServeError(RuntimeError):
    """The server cannot start; the message says why."""


def _access_logging(settings) -> None:
    access = logging.getLogger("codemill.serve.access")
    if not access.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access.addHandler(handler)
    access.setLevel(logging.INFO)
    access.propagate = False


def build_state(config: CodemillConfig, model_spec: str | None, host: str, port: int,
                say: Callable[[str], None], auth: Authenticator, events: bool = True):
    """Load the model and start the engine and event sink; returns the ServerState."""
    import torch

    from serving.api.state import RecentCompletions, ServerState
    from serving.engine.engine import Engine
    from serving.events.sink import EventSink
    from serving.events.wal import WalLockedError
    from serving.model_source import choose_model, load_served_model
    from training.evaluation.lineage import LineageError
    from training.model import ModelSpecError

    settings = config.serve
    metrics = ServeMetrics()
    sink = None
    if events:
        try:
            sink = EventSink(config, on_pending=metrics.events_pending.set).start()
        except WalLockedError as err:
            raise ServeError(str(err)) from None
    try:
        served = choose_model(config, model_spec)
        say(f"model {served.id}: {served.chosen_because}; loading {served.load_spec}")
        if settings.threads:
            torch.set_num_threads(settings.threads)
        if settings.backend == "vllm":
            engine, tokenizer, context_length = _vllm_engine(served, settings, metrics)
            served = replace(served, dtype=settings.dtype if settings.dtype != "auto" else "auto (vLLM)")
        else:
            model, tokenizer = load_served_model(served, settings)
            weight = next(model.parameters())
            served = replace(served, dtype=str(weight.dtype).removeprefix("torch."))
            say(f"weights: {served.dtype} on {weight.device} (serve.dtype={settings.dtype})")
            context_length = int(getattr(model.config, "max_position_embeddings", 2048) or 2048)
            engine = Engine(model, tokenizer, max_batch_size=settings.max_batch_size,
                            max_queue=settings.max_queue, observer=metrics).start()
    except (LineageError, ModelSpecError, OSError, RuntimeError) as err:
        if sink is not None:
            sink.close()
        raise ServeError(f"cannot serve {model_spec or 'the default model'}: {err}") from None
    if served.fim is None:
        say(f"fill-in-the-middle: off ({served.fim_unavailable_reason}; serve.fim_fallback={settings.fim_fallback})")
    else:
        say(f"fill-in-the-middle: {served.fim.order.upper()} from {served.fim.source}")
    return ServerState(
        settings=settings,
        served=served,
        tokenizer=tokenizer,
        engine=engine,
        metrics=metrics,
        auth=auth,
        limiter=RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst),
        sink=sink,
        context_length=context_length,
        server_id=f"{socket.gethostname()}:{port}:{os.getpid()}",
        completions=RecentCompletions(settings.remembered_completions),
    )


def _vllm_engine(served, settings, metrics):
    """The optional vLLM backend (serve.backend=vllm): decoding on vLLM, everything else ours."""
    from transformers import AutoConfig, AutoTokenizer

    from serving.engine.vllm_backend import VllmEngine

    tokenizer = AutoTokenizer.from_pretrained(served.load_spec)
    context_length = int(getattr(AutoConfig.from_pretrained(served.load_spec), "max_position_embeddings", 2048))
    engine = VllmEngine(served.load_spec, tokenizer, max_batch_size=settings.max_batch_size,
                        max_queue=settings.max_queue, observer=metrics, dtype=settings.dtype).start()
    return engine, tokenizer, context_length


def serve(
    config: CodemillConfig,
    model_spec: str | None = None,
    host: str | None = None,
    port: int | None = None,
    say: Callable[[str], None] = lambda text: print(text, file=sys.stderr, flush=True),
) -> None:
    """Run the server in the foreground until interrupted."""
    import uvicorn

    from serving.api.app import create_app

    settings = config.serve
    try:
        auth = Authenticator(configured_keys(settings))
    except ValueError as err:
        raise ServeError(str(err)) from None
    host, warning = bind_host(host or settings.host, auth.enabled)
    if warning:
        log.warning(warning)
        say(f"warning: {warning}")
    port = settings.port if port is None else port
    _access_logging(settings)
    state = build_state(config, model_spec, host, port, say, auth)

    def release() -> None:
        """Stop decoding and flush events; runs once, however the server ends."""
        if state.draining:
            return
        state.draining = True
        state.engine.stop()
        if state.sink is not None:
            state.sink.close()
        say("codemill serve: stopped")

    class Server(uvicorn.Server):
        async def startup(self, sockets=None) -> None:
            await super().startup(sockets)
            if not self.should_exit:
                bound = self.servers[0].sockets[0].getsockname()[1] if self.servers else port
                say(f"codemill serve: http://{host}:{bound}/v1 ready (model {state.served.id}, "
                    f"{'API keys required' if auth.enabled else 'no API keys: local only'})")

        async def shutdown(self, sockets=None) -> None:
            # Here, not after run(): uvicorn re-raises SIGTERM/SIGINT once it has shut down,
            # which ends the process before any code after run() could flush the events.
            await super().shutdown(sockets)
            await asyncio.to_thread(release)

    server = Server(uvicorn.Config(
        create_app(state), host=host, port=port, log_config=None, access_log=False,
        timeout_graceful_shutdown=GRACE_SECONDS, lifespan="off",
    ))
    try:
        server.run()
    finally:
        release()
    if not server.started:
        raise ServeError(f"could not listen on {host}:{port} (in use, or not allowed)")
