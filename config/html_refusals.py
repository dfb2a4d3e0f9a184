"""The HTML pages' one error mapper: a service's refusal (ApplicationError) shown to a person.

Services refuse with ApplicationError; the three surfaces each map it once: the store's REST
API in config/api_errors.store_exception_handler, the OpenAI-compatible /v1 API in
inference/api/errors.py, and the HTML pages here:

- an action (a button that posts, then redirects): ``act`` runs the service call; a refusal
  becomes an error message on the next page, a success the success message;
- a view of such actions as a whole: ``refusals_shown_back`` wraps it; a refusal raised
  anywhere in it becomes an error message on the page the action came from;
- a form: ``act_on_form`` runs the call; a refusal becomes an error on the form's field when
  the form has it (else on top), so the page re-renders with what the person typed.

Either returns the service's result, or REFUSED when the service refused, so that a view
reads ``if result is not REFUSED: return redirect(...)`` with no exception handling of its own.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme

from config.api_errors import ApplicationError


class _Refused:
    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "REFUSED"


REFUSED: Any = _Refused()


def act(
    request,
    call: Callable[[], Any],
    *,
    success: str | Callable[[Any], str] = "",
    forbidden_page: bool = False,
) -> Any:
    """Runs ``call`` for an action of ``request``'s page; its refusal becomes an error message
    and its success ``success`` (a text, or a function of the result giving one). With
    ``forbidden_page``, a 403 refusal answers the 403 page instead of a message."""
    try:
        result = call()
    except ApplicationError as refusal:
        if forbidden_page and refusal.status == 403:
            raise PermissionDenied(refusal.message) from None
        messages.error(request, refusal.message)
        return REFUSED
    text = success(result) if callable(success) else success
    if text:
        messages.success(request, text)
    return result


def act_on_form(form, call: Callable[[], Any]) -> Any:
    """Runs ``call`` with a valid ``form``'s data; its refusal becomes the form's error."""
    try:
        return call()
    except ApplicationError as refusal:
        refusal.add_to_form(form)
        return REFUSED


def _came_from(request, fallback: str) -> str:
    """The form's ``next`` or the Referer when they are pages of this site, else ``fallback``."""
    for candidate in (request.POST.get("next"), request.headers.get("Referer")):
        if candidate and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return candidate
    return fallback


def refusals_shown_back(fallback: str):
    """Decorates a POST action view: a refusal it raises becomes an error message on the page
    the action came from (``next``, else the Referer, else the URL name ``fallback``)."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            try:
                return view(request, *args, **kwargs)
            except ApplicationError as refusal:
                messages.error(request, refusal.message)
                return redirect(_came_from(request, fallback))

        return wrapper

    return decorate
