from store.gpts.models import (  # noqa: I001 - a package of its own (store/gpts)
    BuilderProfile,
    ChatMessage,
    Conversation,
    Gpt,
    GptAuditEntry,
    GptCategory,
    GptRating,
    GptReport,
    GptRevision,
    KnowledgeChunk,
    KnowledgeTerm,
    KnowledgeFile,
)
from store.models.curation import Collection, CollectionItem, ListingReport, ListingStatusChange
from store.models.listing import Listing
from store.models.review import Review
from store.models.version import ListingVersion, WeightFile

__all__ = [
    "BuilderProfile",
    "ChatMessage",
    "Conversation",
    "Gpt",
    "GptAuditEntry",
    "GptCategory",
    "GptRating",
    "GptReport",
    "GptRevision",
    "KnowledgeChunk",
    "KnowledgeTerm",
    "KnowledgeFile",
    "Collection",
    "CollectionItem",
    "Listing",
    "ListingReport",
    "ListingStatusChange",
    "ListingVersion",
    "Review",
    "WeightFile",
]
