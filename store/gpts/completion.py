"""One turn of a GPT: what its model id names, and the conversation the base model sees.

A GPT's answer is the base model's answer to: the GPT's instructions as the system message
(first, so that every chat of one GPT shares them as a prompt prefix the engine computes
once), then the knowledge passages retrieved for the user's last message (as many of the
best as fit the model's window beside the conversation and the answer), then the
conversation. Customers never see the instructions or the passages, only which files an
answer drew on.
"""

from dataclasses import dataclass, field

from config.db import holds_nul
from inference.tokenization import chat_prompt_ids, message_text, tokenizer_for
from store.gpts import policies
from store.gpts.knowledge import passages_for
from store.gpts.models import Gpt, GptRevision
from store.model_ids import model_not_found

GPT_PREFIX = "gpt:"
KNOWLEDGE_HEADER = (
    "Answer from the following excerpts of your knowledge files when they are relevant. "
    "Each excerpt starts with its file's name in brackets."
)
# Room kept free in the window for the template's own markers around the system message.
WINDOW_MARGIN = 8


@dataclass(frozen=True)
class GptTurn:
    gpt: Gpt
    revision: GptRevision
    messages: list[dict]
    max_tokens: int
    temperature: float
    sources: list[dict] = field(default_factory=list)


def gpt_named(model_id: str) -> Gpt | None:
    """The GPT "gpt:<builder handle>/<slug>" names (one query), or None."""
    handle, _, slug = model_id.removeprefix(GPT_PREFIX).partition("/")
    if not model_id.startswith(GPT_PREFIX) or not handle or not slug or holds_nul(model_id):
        return None
    return (
        Gpt.objects.select_related(
            "profile", "base_listing__publisher", "published__base_listing__publisher"
        )
        .filter(profile__handle=handle, slug=slug)
        .first()
    )


def gpt_for_use(*, user, model_id: str, draft: bool = False) -> Gpt:
    """The published GPT ``user`` may use (``draft``: the GPT whose draft its builder
    previews); 404 model_not_found otherwise (a private GPT looks like no GPT at all to
    anyone but its builder)."""
    gpt = gpt_named(model_id)
    if gpt is None or not (
        policies.is_builder(user, gpt) if draft else policies.may_use(user, gpt)
    ):
        raise model_not_found(model_id)
    return gpt


def _last_user_text(messages: list[dict]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return message_text(message.get("content"))
    return ""


def _knowledge_block(passages) -> str:
    return "\n\n".join([KNOWLEDGE_HEADER, *(f"[{p.file_name}]\n{p.text}" for p in passages)])


def turn_for(
    *,
    gpt: Gpt,
    revision: GptRevision,
    messages: list[dict],
    storage_path: str,
    context_length: int,
    max_tokens: int | None,
    temperature: float | None,
) -> GptTurn:
    """The messages the base model answers for one user turn, knowledge included within
    ``context_length`` tokens (``max_tokens`` of them kept for the answer)."""
    answer_tokens = max_tokens or revision.max_tokens
    instructions = revision.instructions.strip()
    base = ([{"role": "system", "content": instructions}] if instructions else []) + list(messages)
    file_ids = list(revision.knowledge.values_list("pk", flat=True))
    passages = passages_for(file_ids=file_ids, question=_last_user_text(messages))
    chosen = []
    if passages:
        room = (
            context_length
            - answer_tokens
            - len(chat_prompt_ids(storage_path=storage_path, messages=base))
            - WINDOW_MARGIN
        )
        tokenizer = tokenizer_for(storage_path=storage_path)
        room -= len(tokenizer.encode(KNOWLEDGE_HEADER, add_special_tokens=False))
        for passage in passages:
            cost = len(tokenizer.encode(f"\n\n[{passage.file_name}]\n{passage.text}",
                                        add_special_tokens=False))  # fmt: skip
            if cost > room:
                break
            chosen.append(passage)
            room -= cost
    system = "\n\n".join(
        part for part in (instructions, chosen and _knowledge_block(chosen)) if part
    )
    full = ([{"role": "system", "content": system}] if system else []) + list(messages)
    sources = []
    for passage in chosen:
        if passage.file_name not in [s["file"] for s in sources]:
            sources.append({"file": passage.file_name})
    return GptTurn(
        gpt=gpt,
        revision=revision,
        messages=full,
        max_tokens=answer_tokens,
        temperature=revision.temperature if temperature is None else temperature,
        sources=sources,
    )
