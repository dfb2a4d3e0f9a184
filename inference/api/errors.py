"""OpenAI-shaped errors for the /v1 API: {"error": {"message", "type", "param", "code"}}."""

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from redis.exceptions import RedisError

# What a part of the store being down looks like from the web process (Redis, or the
# database: refused, restarting, or a pooled connection that died with the server).
SERVICE_DOWN = (RedisError, OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 5


class OpenAIError(Exception):
    """Raised anywhere under /v1; the view turns it into OpenAI's error body and status."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict:
        return {"message": self.message, "type": self.type, "param": self.param, "code": self.code}

    def response(self) -> JsonResponse:
        response = JsonResponse({"error": self.body()}, status=self.status)
        for name, value in self.headers.items():
            response[name] = value
        return response


def method_not_allowed(*methods: str) -> OpenAIError:
    """405 with the Allow header (RFC 9110 requires it) naming the methods the route answers."""
    return OpenAIError(
        f"Use {' or '.join(methods)} for this endpoint.",
        status=405,
        code="method_not_allowed",
        headers={"Allow": ", ".join(methods)},
    )


def invalid_api_key(message: str = "Incorrect API key provided.") -> OpenAIError:
    return OpenAIError(message, status=401, type="invalid_request_error", code="invalid_api_key")


def unavailable(message: str, *, code: str) -> OpenAIError:
    """503 with Retry-After: a part of the store is coming back, so clients (the openai SDK
    among them) retry."""
    return OpenAIError(
        message,
        status=503,
        type="server_error",
        code=code,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def store_unavailable() -> OpenAIError:
    """Redis (key limits, worker registry, answer streams, and the default broker) or the
    database is down."""
    return unavailable(
        "The store's inference service is unreachable right now; nothing was charged. "
        "Try again shortly.",
        code="service_unavailable",
    )


_TYPES = {402: "insufficient_quota", 403: "permission_error", 429: "rate_limit_error"}


def from_application_error(exc) -> OpenAIError:
    """A service's ApplicationError in OpenAI's shape (type by status, Retry-After on 429 and 503)."""
    headers = {}
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is None and exc.status == 503:
        retry_after = RETRY_AFTER_SECONDS  # no worker, broker down: a part is coming back
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    error_type = _TYPES.get(
        exc.status, "server_error" if exc.status >= 500 else "invalid_request_error"
    )
    return OpenAIError(
        exc.message,
        status=exc.status,
        type=error_type,
        param=exc.field,
        code=exc.code,
        headers=headers,
    )
