"""From an API request to token ids and completion rules (training.prompting / training.completion).

Decides, per prompt: fill-in-the-middle or plain prefix, which extra-context files fit the
budget, and whether the result fits the model (400 with the token counts when it does not).
"""

from __future__ import annotations

from dataclasses import dataclass

from serving.api.errors import ApiError, bad_request
from serving.model_source import ServedModel
from serving.settings import ServeSettings
from training.completion import CompletionContext
from training.fim import FIM_TOKENS
from training.model import EOS_TOKEN
from training.prompting import encode, fim_prompt_ids, pack_extra_context

CHAT_END_TOKENS = ("<|im_end|>", "<|eot_id|>", "<|end|>")


@dataclass(frozen=True)
class PromptPlan:
    ids: list[int]
    context: CompletionContext
    fim: str | None = None  # psm, spm, prefix_only (suffix ignored by the model) or None
    context_paths: tuple[str, ...] = ()
    context_truncated: tuple[str, ...] = ()


def stop_token_ids(tokenizer) -> frozenset[int]:
    """Tokens that end a completion: EOS, end-of-text, chat turn ends, and FIM sentinels."""
    vocab = tokenizer.get_vocab()
    ids = {vocab[token] for token in (EOS_TOKEN, *CHAT_END_TOKENS, *FIM_TOKENS) if token in vocab}
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    return frozenset(ids)


def check_length(prompt_tokens: int, max_tokens: int, settings: ServeSettings, context_length: int) -> None:
    limit = min(settings.max_prompt_tokens, context_length)
    if prompt_tokens > limit or prompt_tokens + max_tokens > context_length:
        raise bad_request(
            f"This model's maximum context length is {context_length} tokens and prompts may use {limit} "
            f"(serve.max_prompt_tokens). However, you requested {prompt_tokens + max_tokens} tokens "
            f"({prompt_tokens} in the prompt, {max_tokens} for the completion). "
            "Please reduce the prompt or max_tokens.",
            param="prompt",
            code="context_length_exceeded",
            prompt_tokens=prompt_tokens,
            max_tokens=max_tokens,
            context_length=context_length,
            max_prompt_tokens=limit,
        )


def _fim_ids(tokenizer, served: ServedModel, settings: ServeSettings, prefix: str, suffix: str):
    if served.fim is not None:
        return fim_prompt_ids(tokenizer, served.fim, prefix, suffix), served.fim.order
    if settings.fim_fallback == "prefix_only":
        return encode(tokenizer, prefix), "prefix_only"
    raise bad_request(
        f"suffix (fill-in-the-middle) is not supported: {served.fim_unavailable_reason}. Send the prompt "
        "without suffix, or start the server with serve.fim_fallback=prefix_only to complete from the "
        "prefix alone",
        param="suffix",
        code="fim_not_supported",
    )


def completion_plan(
    tokenizer,
    served: ServedModel,
    settings: ServeSettings,
    prompt: str | list[int],
    *,
    suffix: str | None,
    mode: str,
    stop: tuple[str, ...],
    extra_context: list[tuple[str, str]] | None,
    language: str | None,
) -> PromptPlan:
    if isinstance(prompt, list):  # token ids, as OpenAI accepts them
        vocab_size = len(tokenizer)
        if any(not 0 <= token < vocab_size for token in prompt):
            raise bad_request(f"prompt token ids must be in [0, {vocab_size})", param="prompt")
        prefix_text = tokenizer.decode(prompt)
    else:
        prefix_text = prompt
    packed = pack_extra_context(tokenizer, extra_context or [], settings.extra_context_tokens, language)
    fim = None
    if suffix:
        ids, fim = _fim_ids(tokenizer, served, settings, packed.text + prefix_text, suffix)
    elif isinstance(prompt, list):
        ids = encode(tokenizer, packed.text) + prompt
    else:
        ids = encode(tokenizer, packed.text + prefix_text)
    if not ids:
        raise bad_request("prompt is empty: give some text before the cursor", param="prompt")
    context = CompletionContext(prefix=prefix_text, suffix=suffix or "", mode=mode, stop=stop)  # type: ignore[arg-type]
    return PromptPlan(ids, context, fim, packed.paths, packed.truncated)


def chat_plan(tokenizer, messages: list[dict[str, str]], stop: tuple[str, ...]) -> PromptPlan:
    from training.prompting import chat_prompt_ids

    try:
        ids = chat_prompt_ids(tokenizer, messages)
    except Exception as err:  # noqa: BLE001 - a template that rejects the conversation (roles, order)
        raise ApiError(400, f"messages: the model's chat template refused them: {err}", param="messages") from None
    return PromptPlan(ids, CompletionContext(mode="none", stop=stop))
