from store.models.curation import ListingStatusChange
from store.models.listing import Listing
from store.models.version import ListingVersion, WeightFile

__all__ = ["Listing", "ListingStatusChange", "ListingVersion", "WeightFile"]
