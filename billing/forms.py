from django import forms

from billing.models import PriceOption
from billing.money import cents_from_major


class PriceOptionForm(forms.Form):
    """Shape only; the pricing rules (bounds, one purchase price) live in the services."""

    kind = forms.ChoiceField(
        choices=PriceOption.Kind.choices, widget=forms.RadioSelect, initial="rental"
    )
    amount = forms.IntegerField(
        label="Price (in cents)", help_text="In the smallest currency unit: 1500 means 15.00."
    )
    tokens = forms.IntegerField(
        label="Tokens in the pack", required=False, help_text="Rental packs only."
    )
    days = forms.IntegerField(
        label="Valid for (days)", required=False, help_text="Rental packs only."
    )

    def clean(self):
        data = super().clean()
        if data.get("kind") == "rental":
            for name in ("tokens", "days"):
                if data.get(name) is None:
                    self.add_error(name, "A rental pack needs this.")
        return data


class TermsForm(forms.Form):
    text = forms.CharField(
        label="Licence text buyers must accept",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="Leave empty to sell without a licence to accept.",
    )


class CheckoutForm(forms.Form):
    accept_terms = forms.BooleanField(required=False, label="I accept the licence above.")


class GrantForm(forms.Form):
    email = forms.EmailField(label="Customer email")
    model_id = forms.CharField(label="Model id", help_text="publisher-slug/listing-slug")
    kind = forms.ChoiceField(
        choices=PriceOption.Kind.choices, widget=forms.RadioSelect, initial="rental"
    )
    tokens = forms.IntegerField(required=False, min_value=1)
    days = forms.IntegerField(required=False, min_value=1)

    def clean(self):
        data = super().clean()
        if data.get("kind") == "rental":
            for name in ("tokens", "days"):
                if not data.get(name):
                    self.add_error(name, "A rental pack needs this.")
        return data


class TokenPriceForm(forms.Form):
    """Shape only; the bounds live in billing.services.credits.token_price_set."""

    input_per_mtok = forms.IntegerField(
        label="Input price (cents per 1M tokens)",
        help_text="20 means $0.20 per million prompt tokens; 0 makes them free.",
    )
    output_per_mtok = forms.IntegerField(
        label="Output price (cents per 1M tokens)",
        help_text="What a million generated tokens cost; 0 makes them free.",
    )


class TopUpForm(forms.Form):
    """A preset button (cents) or a typed amount ("12.50"). Shape only: the bounds live in
    billing.services.topups.topup_start."""

    preset = forms.IntegerField(required=False)
    amount = forms.CharField(label="Amount", max_length=12, required=False)

    def clean(self):
        data = super().clean()
        if data.get("preset"):
            data["cents"] = data["preset"]
            return data
        try:
            data["cents"] = cents_from_major(data.get("amount") or "")
        except ValueError as exc:
            raise forms.ValidationError(
                "Enter an amount in dollars and cents, such as 10 or 12.50."
            ) from exc
        return data


class CreditGrantForm(forms.Form):
    email = forms.EmailField(label="Customer email")
    amount = forms.CharField(label="Amount", max_length=12, help_text="In dollars: 5 or 12.50.")
    reason = forms.CharField(max_length=200, help_text="Shown in the customer's credit history.")

    def clean_amount(self):
        try:
            return cents_from_major(self.cleaned_data["amount"])
        except ValueError as exc:
            raise forms.ValidationError("Enter an amount such as 5 or 12.50.") from exc
