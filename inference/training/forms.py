"""Forms of the fine-tuning pages (the rules are in services)."""

from django import forms


class JobForm(forms.Form):
    model = forms.ChoiceField(label="Base model")
    training_file = forms.ChoiceField(label="Training file")
    n_epochs = forms.IntegerField(label="Epochs", min_value=1, max_value=50, required=False)
    batch_size = forms.IntegerField(label="Batch size", min_value=1, max_value=256, required=False)
    learning_rate_multiplier = forms.FloatField(
        label="Learning rate multiplier", min_value=0.000001, max_value=100, required=False
    )
    suffix = forms.CharField(label="Suffix", max_length=40, required=False)
    seed = forms.IntegerField(label="Seed", min_value=0, required=False)

    def job_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "model": data["model"],
            "training_file": data["training_file"],
            "hyperparameters": {
                name: data[name]
                for name in ("n_epochs", "batch_size", "learning_rate_multiplier")
                if data.get(name) is not None
            },
            "suffix": data.get("suffix") or None,
            "seed": data.get("seed"),
        }


class TermsForm(forms.Form):
    allowed = forms.BooleanField(label="Customers may fine-tune this model", required=False)
    price_per_mtok = forms.IntegerField(
        label="Training price (cents per 1M training tokens)", min_value=0, initial=0
    )
    derived_publishable = forms.BooleanField(
        label="Fine-tuned models may be published as listings", required=False
    )


class PublishForm(forms.Form):
    name = forms.CharField(label="Listing name", max_length=120)
    slug = forms.SlugField(
        label="Slug", max_length=80, required=False, help_text="Made from the name when empty."
    )
    summary = forms.CharField(label="Summary", max_length=300, required=False)
