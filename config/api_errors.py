"""The store's REST API speaks one error shape: {"error": {"message", "code", "fields"?}}.

(The /v1 inference API has its own, OpenAI-shaped errors: see inference/api/errors.py.)
"""

from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler


class ApplicationError(Exception):
    """Raised by services when a business rule refuses an action; mapped to HTTP 400 by default."""

    def __init__(
        self, message: str, *, code: str = "invalid", status: int = 400, field: str | None = None
    ):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.field = field

    def add_to_form(self, form) -> None:
        """Shows the refusal on a Django form: on its field when the form has it, else on top."""
        form.add_error(self.field if self.field in form.fields else None, self.message)


def store_exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        body = {"error": {"message": exc.message, "code": exc.code}}
        if exc.field:
            body["error"]["fields"] = {exc.field: [exc.message]}
        return Response(body, status=exc.status)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = {
            "error": {"message": "Invalid input.", "code": "invalid", "fields": detail}
        }
    else:
        message = exc.detail if isinstance(getattr(exc, "detail", None), str) else str(exc)
        response.data = {
            "error": {"message": str(message), "code": getattr(exc, "default_code", "error")}
        }
    return response
