"""What a /v1 answer says, for tests that run without a worker."""


def admitted(response) -> bool:
    """The request passed every check (key, model, access, safeguards, tokenization, limits,
    quota) and stopped only at the queue no worker serves in these tests: 503
    ``no_worker_available``, not any other refusal that happens to share the status."""
    return response.status_code == 503 and response.json()["error"]["code"] == "no_worker_available"
