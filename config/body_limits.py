"""Request bodies of the /v1 API are bounded before anything is read into a file.

Django's ASGI handler spools a whole body (to memory, then to disk) before any view or
middleware sees the request, so a client could make every web process write gigabytes that
a view would then refuse. This ASGI wrapper answers 413 in OpenAI's error shape as soon as a
/v1 body is known to be too large: at once from ``Content-Length``, or while the (chunked)
body arrives, before the application is called. Other routes keep Django's own limits (the
upload route has its own, larger one: store/publishing). ``/v1/files`` takes training files
up to TRAINING_MAX_FILE_BYTES: those bodies are passed on as they arrive (not held here), and
one that runs past its limit is cut off as a client disconnect.
"""

import json

from django.conf import settings

PREFIX = "/v1/"
UPLOADS = "/v1/files"  # training files: their own, larger limit, streamed on to Django


def _too_large(limit: int) -> bytes:
    return json.dumps(
        {
            "error": {
                "message": f"The request body is larger than {limit:,} bytes.",
                "type": "invalid_request_error",
                "param": None,
                "code": "request_too_large",
            }
        }
    ).encode()


async def _refuse(send, limit: int) -> None:
    body = _too_large(limit)
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Wraps the ASGI application; see the module's docstring."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope.get("path", "").startswith(PREFIX):
            return await self.app(scope, receive, send)
        uploads = scope["path"].rstrip("/") == UPLOADS
        limit = settings.TRAINING_MAX_FILE_BYTES + 65536 if uploads else settings.API_MAX_BODY_BYTES
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await _refuse(send, limit)
        if uploads:
            return await self.app(scope, _counted(receive, limit), send)
        # Read the body here (at most ``limit`` bytes are kept), then hand it on.
        messages, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                messages.append(message)  # a disconnect: the application sees it
                break
            size += len(message.get("body", b""))
            if size > limit:
                return await _refuse(send, limit)
            messages.append(message)
            if not message.get("more_body", False):
                break
        replay = iter(messages)

        async def receive_again():
            message = next(replay, None)
            return message if message is not None else await receive()

        return await self.app(scope, receive_again, send)


def _counted(receive, limit: int):
    """``receive`` that ends the request (as a disconnect) once more than ``limit`` bytes came."""
    size = 0

    async def receive_counted():
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                return {"type": "http.disconnect"}
        return message

    return receive_counted
