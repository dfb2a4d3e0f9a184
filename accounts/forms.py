from django import forms

from accounts.models import PublisherProfile
from billing.money import cents_from_major


class SignUpForm(forms.Form):
    email = forms.EmailField()
    name = forms.CharField(max_length=150, required=False, label="Name (optional)")
    password = forms.CharField(widget=forms.PasswordInput, min_length=1)
    password_confirm = forms.CharField(widget=forms.PasswordInput, label="Repeat password")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password") and cleaned.get("password") != cleaned.get("password_confirm"):
            self.add_error("password_confirm", "The two passwords differ.")
        return cleaned


class PublisherApplicationForm(forms.ModelForm):
    website = forms.URLField(required=False, assume_scheme="https")

    class Meta:
        model = PublisherProfile
        fields = ["display_name", "slug", "bio", "website"]
        help_texts = {"slug": "Your models' ids start with it, e.g. your-slug/model-name."}

    def validate_unique(self):
        # Uniqueness is the service's rule; it answers with a clearer message.
        pass


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100)
    requests_per_minute = forms.IntegerField(min_value=1, required=False)
    tokens_per_minute = forms.IntegerField(min_value=1, required=False)
    monthly_token_budget = forms.IntegerField(min_value=1, required=False)
    monthly_spend_limit = forms.CharField(
        label="Monthly spending limit",
        required=False,
        max_length=12,
        help_text="Credits this key may spend per calendar month, e.g. 20 or 7.50.",
    )

    def clean_monthly_spend_limit(self):
        text = (self.cleaned_data.get("monthly_spend_limit") or "").strip()
        if not text:
            return None
        try:
            return cents_from_major(text)
        except ValueError as exc:
            raise forms.ValidationError("Enter an amount such as 20 or 7.50.") from exc
