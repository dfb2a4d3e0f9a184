"""The HTML pages' error mapper (config/html_refusals.py): a refusal becomes a message or a
form error, and an action goes back only to a page of this site."""

import pytest
from django import forms
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.core.exceptions import PermissionDenied

from config.api_errors import ApplicationError
from config.html_refusals import REFUSED, act, act_on_form, refusals_shown_back


def _post(rf, data=None, **headers):
    request = rf.post("/somewhere", data or {}, **headers)
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    return request


def _texts(request):
    return [(m.level_tag, m.message) for m in get_messages(request)]


def refuse(**kwargs):
    raise ApplicationError("Not now.", **kwargs)


def test_an_action_shows_its_success_or_its_refusal(rf):
    request = _post(rf)
    assert act(request, lambda: 7, success=lambda n: f"Made {n}.") == 7
    assert act(request, refuse, success="never shown") is REFUSED
    assert _texts(request) == [("success", "Made 7."), ("error", "Not now.")]


def test_a_forbidden_action_can_answer_the_403_page(rf):
    with pytest.raises(PermissionDenied):
        act(_post(rf), lambda: refuse(status=403), forbidden_page=True)


def test_a_refusal_lands_on_its_field_or_on_top_of_the_form():
    class NameForm(forms.Form):
        name = forms.CharField()

    form = NameForm({"name": "x"})
    assert form.is_valid()
    assert act_on_form(form, lambda: refuse(field="name")) is REFUSED
    assert act_on_form(form, lambda: refuse(field="unknown")) is REFUSED
    assert form.errors == {"name": ["Not now."], "__all__": ["Not now."]}


@pytest.mark.parametrize(
    ("data", "headers", "back"),
    [
        ({"next": "/gpts/mine/"}, {}, "/gpts/mine/"),
        ({}, {"HTTP_REFERER": "http://testserver/gpts/a/b/"}, "http://testserver/gpts/a/b/"),
        ({"next": "https://elsewhere.example/phish"}, {}, "/gpts/"),
        ({}, {"HTTP_REFERER": "https://elsewhere.example/"}, "/gpts/"),
    ],
)
def test_an_action_view_goes_back_only_to_this_site(rf, data, headers, back):
    view = refusals_shown_back("gpts:store")(lambda request: refuse())
    request = _post(rf, data, **headers)
    response = view(request)
    assert (response.status_code, response["Location"]) == (302, back)
    assert _texts(request) == [("error", "Not now.")]
