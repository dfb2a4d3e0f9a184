"""OpenAI-shaped errors for the /v1 API: {"error": {"message", "type", "param", "code"}}."""

from django.http import JsonResponse


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


def invalid_api_key(message: str = "Incorrect API key provided.") -> OpenAIError:
    return OpenAIError(message, status=401, type="invalid_request_error", code="invalid_api_key")


def store_unavailable() -> OpenAIError:
    """Redis (key limits, worker registry, answer streams, and the default broker) is down."""
    return OpenAIError(
        "The store's inference service is unreachable right now; nothing was charged. "
        "Try again shortly.",
        status=503,
        type="server_error",
        code="service_unavailable",
    )


_TYPES = {402: "insufficient_quota", 403: "permission_error", 429: "rate_limit_error"}


def from_application_error(exc) -> OpenAIError:
    """A service's ApplicationError in OpenAI's shape (type by status, Retry-After on 429)."""
    headers = {}
    retry_after = getattr(exc, "retry_after", None)
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
