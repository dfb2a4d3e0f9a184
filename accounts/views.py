import secrets

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import PasswordResetView
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.forms import ApiKeyForm, PublisherApplicationForm, SignUpForm
from config.api_errors import ApplicationError
from config.html_refusals import REFUSED, act_on_form


def signup(request):
    if request.user.is_authenticated:
        return redirect("accounts:dashboard")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = act_on_form(
            form,
            lambda: services.user_sign_up(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                name=form.cleaned_data["name"],
            ),
        )
        if user is not REFUSED:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, "Welcome! Your account is ready.")
            return redirect("accounts:dashboard")
    return render(request, "accounts/signup.html", {"form": form})


@login_required
def dashboard(request):
    return render(
        request,
        "accounts/dashboard.html",
        {"profile": selectors.publisher_profile_of(user=request.user)},
    )


@login_required
def api_keys(request):
    """The secret of a new key is in the POST's own answer and nowhere else (not in the
    session, not in a cache): it is shown once and never stored. A reload that re-posts
    the form carries the used form id and creates nothing."""
    form = ApiKeyForm(request.POST or None)
    used = request.session.get("api_key_forms_used", [])
    form_id = request.POST.get("form_id", "")
    if request.method == "POST" and form_id and form_id in used:
        messages.info(request, "This key was already created; its secret was shown once.")
        return redirect("accounts:api_keys")
    issued = None
    if request.method == "POST" and form.is_valid():
        issued = act_on_form(
            form, lambda: services.api_key_create(user=request.user, **form.cleaned_data)
        )
        if issued is not REFUSED:
            if form_id:
                request.session["api_key_forms_used"] = [*used[-19:], form_id]
            form = ApiKeyForm()
    response = render(
        request,
        "accounts/api_keys.html",
        {
            "form": form,
            "form_id": secrets.token_urlsafe(16),
            "new_key": issued.api_key if issued else None,
            "secret": issued.secret if issued else None,
            "keys": selectors.api_keys_of(user=request.user),
        },
    )
    if issued:
        response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def api_key_revoke(request, key_id: int):
    key = selectors.api_key_of(user=request.user, key_id=key_id)
    if key is None:
        raise Http404("No such key.")
    services.api_key_revoke(api_key=key)
    messages.success(request, f"The key “{key.name}” is revoked; requests with it now get 401.")
    return redirect("accounts:api_keys")


@login_required
def publisher_apply(request):
    profile = selectors.publisher_profile_of(user=request.user)
    form = PublisherApplicationForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        applied = act_on_form(
            form, lambda: services.publisher_apply(user=request.user, **form.cleaned_data)
        )
        if applied is not REFUSED:
            profile = applied
            if profile.rename_pending:
                messages.success(request, "Saved. Staff will review your new name and slug.")
            elif profile.status == profile.Status.APPROVED:
                messages.success(request, "Your profile is updated.")
            else:
                messages.success(request, "Thanks! Staff will review your application.")
            return redirect("accounts:dashboard")
    return render(request, "accounts/publisher_apply.html", {"form": form, "profile": profile})


class ThrottledPasswordResetView(PasswordResetView):
    """Django's reset view, with a cap on the emails one address or one email may ask for."""

    def form_valid(self, form):
        try:
            services.password_reset_throttle(
                ip=self.request.META.get("REMOTE_ADDR", ""), email=form.cleaned_data["email"]
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
            response = self.form_invalid(form)
            response.status_code = exc.status
            return response
        return super().form_valid(form)
