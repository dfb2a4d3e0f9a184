"""GPTs: assistants built on store models (instructions, starters, knowledge), the way
OpenAI's GPT Store has them.

A GPT's own fields are its draft, which only its builder and the preview see. Publishing
copies the draft into an immutable GptRevision; customers (the chat page, /v1) always use
the published revision, so editing the draft never changes what they get until the builder
publishes again. Knowledge files are immutable too: a revision names the files it answers
from, and removing a file from the draft only detaches it from the draft.
"""

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

INSTRUCTIONS_MAX_CHARS = 8000
STARTERS_MAX = 4
STARTER_MAX_CHARS = 200


class GptCategory(models.Model):
    """Staff-managed list (admin): writing, productivity, research & analysis, ..."""

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=60)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "GPT categories"

    def __str__(self):
        return self.name


class BuilderProfile(models.Model):
    """Who builds GPTs: a handle (part of each GPT's id) and whether staff verified them.
    Publishing to the public store needs a verified profile (store.gpts.policies)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="builder_profile"
    )
    display_name = models.CharField(max_length=100)
    handle = models.SlugField(max_length=40, unique=True)
    website = models.URLField(blank=True)
    verified = models.BooleanField(default=False, help_text="Staff checked who this builder is.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.display_name} (@{self.handle})"


class Gpt(models.Model):
    class Visibility(models.TextChoices):
        PRIVATE = "private", "Only me"
        LINK = "link", "Anyone with the link"
        PUBLIC = "public", "Public in the GPT store"

    class Review(models.TextChoices):
        # Only public GPTs are reviewed; the others are never listed.
        NONE = "none", "Not in the store"
        PENDING = "pending", "Waiting for review"
        APPROVED = "approved", "In the store"
        REJECTED = "rejected", "Rejected"
        DELISTED = "delisted", "Delisted"

    builder = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="gpts"
    )
    profile = models.ForeignKey(BuilderProfile, on_delete=models.PROTECT, related_name="gpts")
    slug = models.SlugField(max_length=60)
    # The draft.
    name = models.CharField(max_length=80)
    description = models.CharField(max_length=300, blank=True)
    category = models.ForeignKey(GptCategory, on_delete=models.PROTECT, related_name="+")
    instructions = models.TextField(max_length=INSTRUCTIONS_MAX_CHARS, blank=True)
    starters = models.JSONField(default=list, blank=True)
    temperature = models.FloatField(
        default=0.7, validators=[MinValueValidator(0.0), MaxValueValidator(2.0)]
    )
    max_tokens = models.PositiveIntegerField(
        default=256, validators=[MinValueValidator(1), MaxValueValidator(4096)]
    )
    base_listing = models.ForeignKey("store.Listing", on_delete=models.PROTECT, related_name="gpts")
    # What the builder earns on top of the base model's prices: cents per 1M tokens (µ¢ per
    # token), on prompt and completion tokens alike. Zero: the builder takes nothing.
    markup_per_mtok = models.PositiveBigIntegerField(default=0)
    avatar = models.CharField(max_length=200, blank=True)  # a path under MEDIA_ROOT
    knowledge = models.ManyToManyField("store.KnowledgeFile", blank=True, related_name="drafts")
    # What customers use.
    visibility = models.CharField(
        max_length=16, choices=Visibility.choices, default=Visibility.PRIVATE
    )
    review = models.CharField(max_length=16, choices=Review.choices, default=Review.NONE)
    review_note = models.TextField(blank=True)
    published = models.ForeignKey(
        "store.GptRevision", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # A revision sent to the public store, waiting for review; customers keep ``published``
    # (the last approved one) meanwhile.
    submitted = models.ForeignKey(
        "store.GptRevision", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    featured = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["profile", "slug"], name="one_gpt_slug_per_builder")
        ]
        indexes = [models.Index(fields=["visibility", "review"])]

    def __str__(self):
        return self.model_id

    @property
    def model_id(self) -> str:
        """How /v1 names it: "gpt:<builder handle>/<slug>"."""
        return f"gpt:{self.profile.handle}/{self.slug}"


class GptRevision(models.Model):
    """One published state of a GPT: immutable (nothing updates a row)."""

    gpt = models.ForeignKey(Gpt, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    name = models.CharField(max_length=80)
    description = models.CharField(max_length=300, blank=True)
    category = models.ForeignKey(GptCategory, on_delete=models.PROTECT, related_name="+")
    instructions = models.TextField(blank=True)
    starters = models.JSONField(default=list)
    temperature = models.FloatField()
    max_tokens = models.PositiveIntegerField()
    base_listing = models.ForeignKey("store.Listing", on_delete=models.PROTECT, related_name="+")
    markup_per_mtok = models.PositiveBigIntegerField()
    avatar = models.CharField(max_length=200, blank=True)
    knowledge = models.ManyToManyField("store.KnowledgeFile", blank=True, related_name="revisions")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["gpt", "number"], name="one_gpt_revision_number")
        ]

    def __str__(self):
        return f"{self.gpt_id} r{self.number}"


class KnowledgeFile(models.Model):
    """An uploaded knowledge file's extracted text, split into chunks. Immutable."""

    builder = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=20)  # text | markdown | html | pdf
    size = models.PositiveIntegerField()
    characters = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    chunk_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name


class KnowledgeChunk(models.Model):
    file = models.ForeignKey(KnowledgeFile, on_delete=models.CASCADE, related_name="chunks")
    position = models.PositiveIntegerField()
    text = models.TextField()
    # to_tsvector('english', text), written with the row (store.gpts.knowledge).
    search = SearchVectorField()

    class Meta:
        ordering = ["file_id", "position"]
        # One GIN index over the file and the words (btree_gin): a search within a GPT's
        # files reads only its matching chunks, however many other GPTs' chunks there are.
        indexes = [GinIndex(fields=["file", "search"], name="knowledge_chunk_file_search")]

    def __str__(self):
        return f"{self.file_id}#{self.position}"


class KnowledgeTerm(models.Model):
    """How many of a file's chunks hold a word (a lexeme of its search vectors): retrieval
    leaves out the words most of a GPT's chunks hold (store.gpts.knowledge)."""

    file = models.ForeignKey(KnowledgeFile, on_delete=models.CASCADE, related_name="terms")
    word = models.TextField()
    chunks = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["word", "file"], name="knowledge_term_word_file")
        ]

    def __str__(self):
        return f"{self.word} in {self.file_id}: {self.chunks}"


class Conversation(models.Model):
    gpt = models.ForeignKey(Gpt, on_delete=models.CASCADE, related_name="conversations")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="gpt_conversations"
    )
    title = models.CharField(max_length=120)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]

    def __str__(self):
        return self.title


class ChatMessage(models.Model):
    class Role(models.TextChoices):
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    content = models.TextField()
    # The knowledge files an answer drew on: [{"file": name}, ...].
    sources = models.JSONField(default=list, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    revision = models.ForeignKey(
        GptRevision, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    finish_reason = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.role}: {self.content[:40]}"


class GptRating(models.Model):
    """One rating (and optional review) per customer who has chatted with the GPT."""

    gpt = models.ForeignKey(Gpt, on_delete=models.CASCADE, related_name="ratings")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    stars = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    text = models.TextField(max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.UniqueConstraint(fields=["gpt", "user"], name="one_gpt_rating_per_user"),
            models.CheckConstraint(
                condition=Q(stars__gte=1, stars__lte=5), name="gpt_rating_stars_1_to_5"
            ),
        ]

    def __str__(self):
        return f"{self.stars}★ on {self.gpt_id}"


class GptReport(models.Model):
    gpt = models.ForeignKey(Gpt, on_delete=models.CASCADE, related_name="reports")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reason = models.TextField(max_length=2000)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"report on {self.gpt_id}"


class GptAuditEntry(models.Model):
    """Every change of a GPT, by whom: append-only."""

    gpt = models.ForeignKey(Gpt, on_delete=models.CASCADE, related_name="audit")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=40)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "GPT audit entries"

    def __str__(self):
        return f"{self.action} on {self.gpt_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("GPT audit entries are append-only.")
        super().save(*args, **kwargs)
