"""The contract between the web side and the worker side of a generation.

The web side validates, tokenizes (chat template applied), reserves quota, then sends
the Celery task GENERATE_TASK with a GenerationJob as keyword arguments. The worker
appends events to the Redis Stream ``stream_key(request_id)``; the web side reads them
(SSE or a final JSON answer). Stream fields are strings (Redis), values as below.

Events, in order:
- {"type": "claimed", "worker": "<node>:<pid>"}         a worker process took the task (readers
                                                        then watch that process, not just the queue)
- {"type": "start"}                                     the engine admitted the request
- {"type": "delta", "index": i, "text": str, "tokens": k}  new text of choice i (k new tokens)
- {"type": "finish", "index": i, "finish_reason": "stop" | "length" | "cancelled",
   "completion_tokens": k}                              choice i is complete
- {"type": "done", "prompt_tokens": p, "completion_tokens": c}   last entry on success or cancel
- {"type": "error", "code": str, "message": str, "completion_tokens": c}  last entry on failure

The web side asks for a stop by setting ``cancel_key(request_id)``; the engine checks it
between decode steps and finishes the request with finish_reason "cancelled".
"""

from dataclasses import asdict, dataclass, field

GENERATE_TASK = "inference.generate"
STREAM_TTL_SECONDS = 3600
CANCEL_TTL_SECONDS = 3600

CLAIMED = "claimed"
START = "start"
DELTA = "delta"
FINISH = "finish"
DONE = "done"
ERROR = "error"


def stream_key(request_id: str) -> str:
    return f"gptstore:gen:{request_id}"


def cancel_key(request_id: str) -> str:
    return f"gptstore:gen:{request_id}:cancel"


@dataclass
class GenerationJob:
    request_id: str
    model_dir: (
        str  # folder of the loadable model, relative to MEDIA_ROOT (ListingVersion.storage_path)
    )
    prompt_ids: list[int]
    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    n: int = 1
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    enqueued_at: float = 0.0  # time.time() when the web side sent the task
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    logit_bias: list[list] = field(default_factory=list)  # [[token id, bias], …]: JSON-safe
    logprobs: int | None = None  # None: not asked; else alternatives per token (0 to 20)
    precision: str = "float32"  # the version's serving precision (ListingVersion.serving_precision)

    def as_kwargs(self) -> dict:
        return asdict(self)
