"""Token log probabilities in OpenAI's shapes. The worker sends, per generated token,
``[text, logprob, [[alternative text, logprob], …]]`` (inference/engine/sampling.py)."""


def _token(text: str, logprob: float) -> dict:
    return {"token": text, "logprob": logprob, "bytes": list(text.encode("utf-8"))}


def chat_logprobs(entries: list[list]) -> dict:
    """A chat choice's (or chunk's) ``logprobs``: {"content": [...], "refusal": None}."""
    return {
        "content": [
            {**_token(text, logprob), "top_logprobs": [_token(t, lp) for t, lp in top]}
            for text, logprob, top in entries
        ],
        "refusal": None,
    }


def text_logprobs(entries: list[list]) -> dict:
    """A text completion choice's ``logprobs`` (the legacy shape: parallel lists)."""
    return {
        "tokens": [text for text, _, _ in entries],
        "token_logprobs": [logprob for _, logprob, _ in entries],
        "top_logprobs": [dict(top) for _, _, top in entries],
    }
