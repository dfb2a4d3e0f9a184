from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from store.licenses import LICENSES
from store.models import Listing, ListingVersion
from store.publishing.validation import UploadRefused, plan_upload


class ListingForm(forms.Form):
    name = forms.CharField(max_length=120)
    slug = forms.SlugField(
        max_length=80,
        required=False,
        help_text="Part of the model id (publisher/slug). Left empty, it comes from the name.",
    )
    summary = forms.CharField(
        max_length=300, required=False, help_text="One sentence shown in the catalog."
    )
    card_markdown = forms.CharField(
        label="Model card (Markdown)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 14}),
        help_text="What the model is, how it was trained, what it is good and bad at.",
    )
    task = forms.ChoiceField(choices=Listing.Task.choices)
    tags = forms.CharField(required=False, help_text="Comma separated, e.g. small, english, chat.")
    license = forms.ChoiceField(choices=LICENSES, label="Licence")
    languages = forms.CharField(
        required=False, help_text="Comma separated language codes, e.g. en, fr."
    )
    conversation_starters = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line; shown as suggestions in the playground (at most 6).",
    )

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            # The slug is part of the public model id; it stays what it was.
            del self.fields["slug"]

    @classmethod
    def initial_for(cls, listing: Listing) -> dict:
        return {
            "name": listing.name,
            "summary": listing.summary,
            "card_markdown": listing.card_markdown,
            "task": listing.task,
            "tags": ", ".join(listing.tags),
            "license": listing.license,
            "languages": ", ".join(listing.languages),
            "conversation_starters": "\n".join(listing.conversation_starters),
        }

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("slug", None)
        data["conversation_starters"] = [
            line for line in data["conversation_starters"].splitlines() if line.strip()
        ]
        return data


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(item, initial) for item in data]
        return [single(data, initial)] if data else []


class UploadForm(forms.Form):
    files = MultipleFileField(
        label="Weights",
        help_text=(
            "One GGUF file; or one .zip / .tar / .tar.gz of a Hugging Face model folder; or the folder's "
            "files (config.json, tokenizer files, *.safetensors). Pickle checkpoints are refused."
        ),
    )

    serving_precision = forms.ChoiceField(
        label="Serving precision",
        choices=ListingVersion.Precision.choices,
        initial=ListingVersion.Precision.FLOAT32,
        required=False,  # left out: float32, as before the choice existed
        help_text=(
            "How CPU workers hold the weights. float32 answers exactly as the weights say; "
            "bfloat16 and int8 read fewer bytes per token, so single answers come faster, and "
            "change answers a little: processing measures by how much against float32. "
            "Fixed for this version."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["files"].help_text += f" Limit: {filesizeformat(settings.UPLOAD_MAX_BYTES)}."

    def clean_serving_precision(self):
        return self.cleaned_data["serving_precision"] or ListingVersion.Precision.FLOAT32

    def clean_files(self):
        files = self.cleaned_data["files"]
        try:
            self.plan = plan_upload([(f.name, f.size) for f in files])
        except UploadRefused as exc:
            raise forms.ValidationError(exc.message) from exc
        return files
