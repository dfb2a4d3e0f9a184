from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.forms import ApiKeyForm, PublisherApplicationForm, SignUpForm
from config.api_errors import ApplicationError


def signup(request):
    if request.user.is_authenticated:
        return redirect("accounts:dashboard")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_sign_up(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                name=form.cleaned_data["name"],
            )
        except ApplicationError as exc:
            exc.add_to_form(form)
        else:
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
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            issued = services.api_key_create(user=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            exc.add_to_form(form)
        else:
            # Post/Redirect/Get: the secret rides in the session for exactly one page view,
            # so a reload neither re-creates the key nor shows the secret again.
            request.session["new_api_key"] = {"id": issued.api_key.pk, "secret": issued.secret}
            return redirect("accounts:api_keys")
    issued = request.session.pop("new_api_key", None)
    keys = selectors.api_keys_of(user=request.user)
    new_key = next((key for key in keys if issued and key.pk == issued["id"]), None)
    return render(
        request,
        "accounts/api_keys.html",
        {
            "form": form,
            "new_key": new_key,
            "secret": issued["secret"] if new_key else None,
            "keys": keys,
        },
    )


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
        try:
            services.publisher_apply(user=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            exc.add_to_form(form)
        else:
            messages.success(request, "Thanks! Staff will review your application.")
            return redirect("accounts:dashboard")
    return render(request, "accounts/publisher_apply.html", {"form": form, "profile": profile})
