"""What serving a version in bfloat16 or int8 changes, measured at processing against float32.

The model the smoke test loaded in float32 answers a few fixed prompts greedily and scores a
held-out text; then its linear layers are packed in the
version's serving precision, exactly as the CPU workers will hold them
(inference/engine/packing.py), and it does both again. The report says how many greedy
tokens agree before the answers part, and the perplexity of each. The studio and the
curators' page show it; nothing is refused on it: the publisher chose the trade, and the
curators see what it costs.
"""

import math
import time

from inference.tokenization import chat_text

# torch (and the engine's packing, built on it) is imported inside functions: the web
# process imports the publishing services and never loads torch.

PROMPTS = (
    "Hello! In one sentence, what can you do?",
    "Write two sentences about the sea.",
    "List three colours and one fruit of each colour.",
)
NEW_TOKENS = 24
# Written for this store, so in no model's training set.
HELD_OUT = (
    "The store keeps a ledger of every token a customer holds, spends and gets back. A "
    "publisher uploads weights, the workers check that they load, and curators decide what "
    "customers may buy. When a request arrives, the web server reserves the tokens it may "
    "use, the worker writes the answer a few words at a time, and the reservation is settled "
    "for what was used; the rest returns to the pack. Nothing here is lost when a worker "
    "restarts: a request that never finished is released, and the customer pays nothing."
)


def precision_check(model, tokenizer, *, precision: str, chat: bool) -> dict:
    """The report of serving ``model`` (loaded in float32, in eval mode) in ``precision``
    instead of float32. Packs ``model`` in place: the caller is done with it otherwise."""
    import torch

    from inference.engine.model_cache import max_positions
    from inference.engine.packing import PRECISIONS, pack_linears, packing_supported

    wanted = PRECISIONS[precision]
    report: dict = {"precision": precision}
    if not packing_supported(torch.device("cpu"), torch.float32, wanted):
        report["measured"] = False
        report["reason"] = (
            f"This worker's CPU does not multiply {precision} natively; workers like it "
            "serve this version in float32."
        )
        return report
    started = time.monotonic()
    prompts = [_prompt_ids(tokenizer, text, chat=chat) for text in PROMPTS]
    held_out = tokenizer(HELD_OUT, return_tensors="pt")["input_ids"][
        :, : max_positions(model, tokenizer)
    ]
    reference = [_greedy(model, tokenizer, ids) for ids in prompts]
    reference_perplexity = _perplexity(model, held_out)
    if not pack_linears(model, wanted):
        report["measured"] = False
        report["reason"] = (
            f"Packed in {precision}, this model's layers disagree with float32 on this CPU; "
            "workers like it serve this version in float32."
        )
        return report
    answers = [_greedy(model, tokenizer, ids) for ids in prompts]
    perplexity = _perplexity(model, held_out)
    agreeing = [_agreeing(a, b) for a, b in zip(answers, reference, strict=True)]
    report.update(
        {
            "measured": True,
            "answers": len(prompts),
            "identical_answers": sum(a == b for a, b in zip(answers, reference, strict=True)),
            "tokens": sum(len(r) for r in reference),
            "agreeing_tokens": sum(agreeing),
            "perplexity_float32": round(reference_perplexity, 3),
            "perplexity": round(perplexity, 3),
            "perplexity_change_percent": round((perplexity / reference_perplexity - 1) * 100, 2),
            "held_out_tokens": int(held_out.shape[1]),
            "seconds": round(time.monotonic() - started, 2),
        }
    )
    return report


def _prompt_ids(tokenizer, text: str, *, chat: bool):
    if chat:
        return tokenizer(
            chat_text(tokenizer, [{"role": "user", "content": text}]),
            add_special_tokens=False,
            return_tensors="pt",
        )["input_ids"]
    return tokenizer(text, return_tensors="pt")["input_ids"]


def _greedy(model, tokenizer, ids) -> list[int]:
    import torch

    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    with torch.inference_mode():
        output = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=NEW_TOKENS,
            do_sample=False,
            pad_token_id=pad,
        )
    return output[0, ids.shape[1] :].tolist()


def _perplexity(model, ids) -> float:
    import torch
    import torch.nn.functional as F

    with torch.inference_mode():
        logits = model(input_ids=ids).logits[0, :-1].float()
    return math.exp(F.cross_entropy(logits, ids[0, 1:]).item())


def _agreeing(answer: list[int], reference: list[int]) -> int:
    """How many tokens of ``answer`` equal ``reference``'s before the first difference."""
    for index, (a, b) in enumerate(zip(answer, reference, strict=False)):
        if a != b:
            return index
    return min(len(answer), len(reference))
