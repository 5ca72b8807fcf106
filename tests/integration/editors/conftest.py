"""One real `codemill serve` shared by the editor end-to-end tests (VS Code extension, LSP).

The tiny model (built from a config, tokenizer trained locally) is served from its export
directory with fill-in-the-middle in PSM order (``serve.fim=psm``), so requests with a suffix
get real FIM prompts. Session scope: starting the server is most of these tests' cost.

An untrained model with tied embeddings repeats its last input token, and a FIM prompt ends
with ``<fim_middle>``, a stop token: every completion would be empty. So the stop tokens'
embedding rows are scaled down (their logits shrink): the model then writes a deterministic
run of ordinary tokens until ``max_tokens``, which is what these tests need: text to insert,
and generations long enough to cancel half-way.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.fixtures.serve import ServerProcess, copy_model, tiny_model_dir  # noqa: F401 - fixture

API_KEY = "editor-e2e-key-0123456789"


def keep_writing(model_dir):
    """Rewrites the model in ``model_dir`` so that greedy decoding does not stop at once (see above)."""
    import torch

    from serving.prompts import stop_token_ids
    from training.model import load_model_and_tokenizer, save_model_dir

    model, tokenizer = load_model_and_tokenizer(str(model_dir))
    with torch.no_grad():
        model.get_input_embeddings().weight[sorted(stop_token_ids(tokenizer))] *= 0.05
    return save_model_dir(model, tokenizer, model_dir)


@pytest.fixture(scope="session")
def editor_server(tmp_path_factory, tiny_model_dir):  # noqa: F811
    root = tmp_path_factory.mktemp("editor-serve")
    model_dir = keep_writing(copy_model(tiny_model_dir, root / "model"))
    server = ServerProcess(
        root / "lake",
        "--model", str(model_dir),
        "serve.fim=psm",
        "serve.max_tokens_limit=4000",
        "serve.rate_limit_per_minute=100000",
        "serve.rate_limit_burst=10000",
        env={"CODEMILL_SERVE_API_KEYS": API_KEY},
    ).start()
    yield SimpleNamespace(server=server, model_dir=model_dir, api_key=API_KEY)
    server.stop()


@pytest.fixture(scope="session")
def reference_model(editor_server):
    """The served model loaded in this process: what greedy FIM decoding must produce."""
    import torch

    from serving.prompts import stop_token_ids
    from training.completion import CompletionContext, finish_completion
    from training.model import load_model_and_tokenizer
    from training.prompting import FimFormat, fim_prompt_ids

    model, tokenizer = load_model_and_tokenizer(str(editor_server.model_dir))
    model.eval()
    stops = sorted(stop_token_ids(tokenizer))
    fmt = FimFormat(order="psm", source="tests")

    def fim(prefix: str, suffix: str, mode: str, max_tokens: int) -> str:
        ids = fim_prompt_ids(tokenizer, fmt, prefix, suffix)
        with torch.inference_mode():
            output = model.generate(
                torch.tensor([ids]), max_new_tokens=max_tokens, do_sample=False, eos_token_id=stops,
                pad_token_id=tokenizer.pad_token_id,
            )
        raw = tokenizer.decode([t for t in output[0, len(ids):].tolist() if t not in stops], skip_special_tokens=True)
        return finish_completion(raw, CompletionContext(prefix=prefix, suffix=suffix, mode=mode))

    return fim
