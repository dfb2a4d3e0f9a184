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

    def response(self) -> JsonResponse:
        body = {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}
        response = JsonResponse(body, status=self.status)
        for name, value in self.headers.items():
            response[name] = value
        return response


def invalid_api_key(message: str = "Incorrect API key provided.") -> OpenAIError:
    return OpenAIError(message, status=401, type="invalid_request_error", code="invalid_api_key")
