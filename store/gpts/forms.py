"""The builder's forms: what is typed; the rules are in store.gpts.services."""

from django import forms

from store.gpts.models import INSTRUCTIONS_MAX_CHARS, STARTERS_MAX, Gpt, GptCategory


class GptForm(forms.Form):
    name = forms.CharField(max_length=80)
    description = forms.CharField(max_length=300, required=False)
    category = forms.ModelChoiceField(queryset=GptCategory.objects.all(), empty_label=None)
    base_listing = forms.TypedChoiceField(coerce=int, label="Base model")
    instructions = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 10}),
        max_length=INSTRUCTIONS_MAX_CHARS,
        required=False,
        help_text="The system prompt. Customers never see it.",
    )
    starters = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        label="Conversation starters",
        help_text=f"One per line, at most {STARTERS_MAX}.",
    )
    temperature = forms.FloatField(min_value=0, max_value=2, initial=0.7)
    max_tokens = forms.IntegerField(min_value=1, max_value=4096, initial=256)
    markup_per_mtok = forms.IntegerField(
        min_value=0,
        initial=0,
        label="Your markup (cents per 1M tokens)",
        help_text="Added to the base model's prices; you earn it, minus the store's fee.",
    )

    def __init__(self, *args, base_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["base_listing"].choices = list(base_choices)

    def values(self) -> dict:
        data = dict(self.cleaned_data)
        data["starters"] = [line for line in data["starters"].splitlines() if line.strip()]
        return data


class PublishForm(forms.Form):
    visibility = forms.ChoiceField(choices=Gpt.Visibility.choices, widget=forms.RadioSelect)


class BuilderProfileForm(forms.Form):
    display_name = forms.CharField(max_length=100, label="Builder name")
    handle = forms.CharField(max_length=40, help_text="Part of your GPTs' ids: gpt:<handle>/…")
    website = forms.URLField(required=False, assume_scheme="https")
