"""Turning generated token ids into text that is safe to send, one step at a time.

Decoding token by token breaks multi-byte characters (a byte-level BPE may split one
emoji over several tokens) and drops the leading spaces of SentencePiece pieces. So each
step decodes a short window of ids twice, with and without the new ones, and emits the
difference only when it does not end in a replacement character (the tail of an
unfinished UTF-8 sequence). The window starts inside the prompt so that the first
completion token decodes with its real spacing.

Stop strings are searched in the decoded text. Text that could be the beginning of a
stop string is held back until the next tokens show whether the stop completes: a
client must never see a part of a stop string.
"""

REPLACEMENT = "\ufffd"
PROMPT_CONTEXT_TOKENS = 6


class IncrementalDecoder:
    def __init__(self, tokenizer, prompt_ids: list[int]):
        self.tokenizer = tokenizer
        self.ids = list(prompt_ids[-PROMPT_CONTEXT_TOKENS:])
        self.prefix_offset = 0
        self.read_offset = len(self.ids)

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(
            ids, skip_special_tokens=True, clean_up_tokenization_spaces=False
        )

    def push(self, token_id: int) -> str:
        """Adds one token; returns the text it completes (possibly empty)."""
        self.ids.append(token_id)
        prefix_text = self._decode(self.ids[self.prefix_offset : self.read_offset])
        new_text = self._decode(self.ids[self.prefix_offset :])
        if len(new_text) > len(prefix_text) and not new_text.endswith(REPLACEMENT):
            delta = new_text[len(prefix_text) :]
            self.prefix_offset = self.read_offset
            self.read_offset = len(self.ids)
            return delta
        return ""

    def flush(self) -> str:
        """Whatever is still pending at the end, replacement characters included."""
        if self.read_offset >= len(self.ids):
            return ""
        prefix_text = self._decode(self.ids[self.prefix_offset : self.read_offset])
        new_text = self._decode(self.ids[self.prefix_offset :])
        self.prefix_offset = self.read_offset = len(self.ids)
        return new_text[len(prefix_text) :]


class StopMatcher:
    """Accumulates the decoded text of one choice and decides what may be emitted."""

    def __init__(self, stop: list[str]):
        self.stops = [s for s in stop if s]
        self.text = ""
        self.emitted = 0

    def feed(self, delta: str) -> tuple[str, bool]:
        """Adds decoded text; returns (text now safe to emit, whether a stop string matched)."""
        self.text += delta
        if not self.stops:
            return self._emit_until(len(self.text)), False
        # A match cannot start before `emitted`: text that could begin a stop is held back.
        hits = [pos for pos in (self.text.find(s, self.emitted) for s in self.stops) if pos >= 0]
        if hits:
            cut = min(hits)
            self.text = self.text[:cut]
            return self._emit_until(cut), True
        return self._emit_until(len(self.text) - self._held_back()), False

    def finish(self, tail: str = "") -> tuple[str, bool]:
        """The end of the choice (EOS or budget): held-back text was not a stop after all,
        unless the pending tail completes one."""
        text, matched = self.feed(tail)
        if matched:
            return text, True
        return text + self._emit_until(len(self.text)), False

    def _held_back(self) -> int:
        longest = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(self.text)), longest, -1):
                if self.text.endswith(stop[:size]):
                    longest = size
                    break
        return longest

    def _emit_until(self, end: int) -> str:
        if end <= self.emitted:
            return ""
        out = self.text[self.emitted : end]
        self.emitted = end
        return out
