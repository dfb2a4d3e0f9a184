from store.models.curation import Collection, CollectionItem, ListingReport, ListingStatusChange
from store.models.listing import Listing
from store.models.review import Review
from store.models.version import ListingVersion, WeightFile

__all__ = [
    "Collection",
    "CollectionItem",
    "Listing",
    "ListingReport",
    "ListingStatusChange",
    "ListingVersion",
    "Review",
    "WeightFile",
]
