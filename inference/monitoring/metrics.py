"""The store's Prometheus series (prometheus-client in multi-process mode: every process of a
machine writes its own files under PROMETHEUS_MULTIPROC_DIR, which /metrics sums up).

Labels are bounded: a route is its URL pattern (never the path), a model is a listing's id.
"""

from prometheus_client import Counter, Histogram

# Seconds; first tokens include the queue and the model's load, so the buckets reach far.
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120)
INTER_TOKEN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)

http_requests = Counter(
    "gptstore_http_requests",
    "HTTP requests answered, by route pattern, method and status.",
    ["route", "method", "status"],
)
http_errors = Counter(
    "gptstore_http_errors",
    "HTTP answers with a status of 400 or more, by route pattern, status and error code.",
    ["route", "status", "code"],
)
generations = Counter(
    "gptstore_generations",
    "Answers read to their end by the API, by model and outcome (ok, error, cancelled, lost).",
    ["model", "outcome"],
)
tokens_generated = Counter(
    "gptstore_tokens_generated", "Completion tokens streamed to clients, by model.", ["model"]
)
time_to_first_token = Histogram(
    "gptstore_time_to_first_token_seconds",
    "From admission to the first generated token, by model.",
    ["model"],
    buckets=TTFT_BUCKETS,
)
inter_token = Histogram(
    "gptstore_inter_token_seconds",
    "Time between generated tokens as clients receive them, by model.",
    ["model"],
    buckets=INTER_TOKEN_BUCKETS,
)
worker_tasks = Counter(
    "gptstore_worker_generations",
    "Generation tasks run by workers, by queue, backend and last event (done, error).",
    ["queue", "backend", "result"],
)
