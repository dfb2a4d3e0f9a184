"""Input and output shapes of the catalog API."""

from rest_framework import serializers

from store.licenses import LICENSES
from store.markdown import render_markdown
from store.models import Listing, ListingVersion, WeightFile
from store.selectors import SIZE_BUCKETS, SORTS


class CatalogQuerySerializer(serializers.Serializer):
    q = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="Full-text search."
    )
    task = serializers.ChoiceField(required=False, allow_blank=True, choices=Listing.Task.choices)
    license = serializers.ChoiceField(required=False, allow_blank=True, choices=LICENSES)
    format = serializers.ChoiceField(
        required=False, allow_blank=True, choices=ListingVersion.Format.choices,
        help_text="Source format of the latest ready version.",
    )  # fmt: skip
    size = serializers.ChoiceField(
        required=False, allow_blank=True, choices=[(key, bucket.label) for key, bucket in SIZE_BUCKETS.items()],
        help_text="Parameter-count bucket of the latest ready version.",
    )  # fmt: skip
    price_min = serializers.IntegerField(
        required=False, min_value=0, help_text="Lowest active price, in cents."
    )
    price_max = serializers.IntegerField(
        required=False, min_value=0, help_text="Lowest active price, in cents."
    )
    sort = serializers.ChoiceField(required=False, choices=list(SORTS.items()), default="relevance")

    def filters(self) -> dict:
        data = self.validated_data
        return {
            "q": data.get("q", ""),
            "task": data.get("task", ""),
            "license": data.get("license", ""),
            "source_format": data.get("format", ""),
            "size": data.get("size", ""),
            "price_min": data.get("price_min"),
            "price_max": data.get("price_max"),
            "sort": data.get("sort") or "relevance",
        }


class PublisherSerializer(serializers.Serializer):
    slug = serializers.CharField()
    display_name = serializers.CharField()
    verified = serializers.BooleanField()


class ListingSummarySerializer(serializers.ModelSerializer):
    model_id = serializers.CharField(
        read_only=True, help_text='The id to pass as "model" to the /v1 API.'
    )
    publisher = PublisherSerializer(read_only=True)
    latest_format = serializers.SerializerMethodField(
        help_text="Source format of the latest ready version, or null before one is processed."
    )
    parameter_count = serializers.IntegerField(
        source="latest_parameter_count", read_only=True, allow_null=True
    )
    min_price = serializers.SerializerMethodField(
        help_text="Lowest active price in cents, or null."
    )
    url = serializers.CharField(source="get_absolute_url", read_only=True)

    class Meta:
        model = Listing
        fields = [
            "model_id", "name", "slug", "publisher", "summary", "task", "license", "tags", "languages",
            "latest_format", "parameter_count", "rating_average", "review_count", "min_price", "featured",
            "approved_at", "url",
        ]  # fmt: skip

    def get_latest_format(self, listing) -> str | None:
        return getattr(listing, "latest_format", None) or None

    def get_min_price(self, listing) -> int | None:
        return getattr(listing, "lowest_price", None)


class WeightFileSerializer(serializers.ModelSerializer):
    class Meta:
        model = WeightFile
        fields = ["path", "size_bytes", "sha256"]


class VersionSerializer(serializers.ModelSerializer):
    files = WeightFileSerializer(many=True, read_only=True)

    class Meta:
        model = ListingVersion
        fields = [
            "number", "status", "source_format", "architecture", "parameter_count", "context_length",
            "vocab_size", "dtype", "has_chat_template", "serving_precision", "size_bytes",
            "processed_at", "files",
        ]  # fmt: skip


class ListingDetailSerializer(serializers.ModelSerializer):
    model_id = serializers.CharField(read_only=True)
    publisher = PublisherSerializer(read_only=True)
    card_html = serializers.SerializerMethodField(
        help_text="The model card, rendered and sanitized."
    )
    versions = serializers.SerializerMethodField()
    url = serializers.CharField(source="get_absolute_url", read_only=True)
    fine_tuned_from = serializers.SerializerMethodField(
        help_text="Lineage: the model id and version this model was fine-tuned from, or null."
    )

    class Meta:
        model = Listing
        fields = [
            "model_id", "name", "slug", "publisher", "status", "summary", "card_markdown", "card_html",
            "task", "license", "tags", "languages", "conversation_starters", "rating_average",
            "review_count", "featured", "approved_at", "url", "fine_tuned_from", "versions",
        ]  # fmt: skip

    def get_fine_tuned_from(self, listing) -> dict | None:
        if listing.fine_tuned_from_id is None:
            return None
        version = listing.fine_tuned_from_version
        return {
            "model_id": listing.fine_tuned_from.model_id,
            "version": version.number if version else None,
        }

    def get_card_html(self, listing) -> str:
        return str(render_markdown(listing.card_markdown))

    def get_versions(self, listing) -> list[dict]:
        return VersionSerializer(self.context["versions"], many=True).data
