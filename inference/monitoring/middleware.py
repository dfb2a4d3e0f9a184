"""Counts every answer by route pattern, method and status (and, for errors, their code).

Async-capable like the rest of the chain (see config/static_files.py): one sync-only
middleware would make streamed /v1 answers pin a thread each.
"""

import json

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from inference.monitoring import metrics

UNMATCHED = "unmatched"


def _route(request) -> str:
    match = getattr(request, "resolver_match", None)
    return f"/{match.route}" if match is not None and match.route else UNMATCHED


def _error_code(response) -> str:
    """The code of an error body ({"error": {"code"}} on /v1, {"error": msg} elsewhere)."""
    if getattr(response, "streaming", False) or "json" not in response.get("Content-Type", ""):
        return ""
    try:
        error = json.loads(response.content).get("error")
    except (ValueError, AttributeError):
        return ""
    return str(error.get("code") or "") if isinstance(error, dict) else ""


def request_record(request, response) -> None:
    route, status = _route(request), str(response.status_code)
    metrics.http_requests.labels(route, request.method, status).inc()
    if response.status_code >= 400:
        metrics.http_errors.labels(route, status, _error_code(response)).inc()


class RequestMetricsMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.async_mode:
            return self.__acall__(request)
        response = self.get_response(request)
        request_record(request, response)
        return response

    async def __acall__(self, request):
        response = await self.get_response(request)
        request_record(request, response)
        return response
