"""How the API names a store model: ``<publisher>/<listing>`` (the latest approved version),
or ``<publisher>/<listing>@v<N>`` (that version, pinned). Parsed here and nowhere else."""

import re
from dataclasses import dataclass

from config.api_errors import ApplicationError

# No NUL either: PostgreSQL text cannot hold one, so such an id names nothing.
_MODEL_ID = re.compile(
    r"^(?P<publisher>[^/@\s\x00]+)/(?P<slug>[^/@\s\x00]+)(?:@v(?P<version>[1-9]\d{0,8}))?$"
)


@dataclass(frozen=True)
class ModelRef:
    publisher_slug: str
    slug: str
    version: int | None = None  # None: the latest approved version

    def named(self, publisher_slug: str | None = None) -> str:
        """The id, under ``publisher_slug`` when given (a publisher's slug after a rename)."""
        base = f"{publisher_slug or self.publisher_slug}/{self.slug}"
        return f"{base}@v{self.version}" if self.version is not None else base


def parse(model_id) -> ModelRef | None:
    """The parts of a store model id, or None when it is not one (GPT and fine-tuned ids
    have their own prefixes and are parsed by their apps)."""
    found = _MODEL_ID.match(str(model_id or "").strip())
    if found is None:
        return None
    version = found["version"]
    return ModelRef(found["publisher"], found["slug"], int(version) if version else None)


def model_not_found(model_id) -> ApplicationError:
    """The refusal of a model id (a store model's, a GPT's or a fine-tuned model's) that names
    nothing the caller may use: a private model reads as no model at all."""
    return ApplicationError(
        f"The model '{model_id}' does not exist.", code="model_not_found", status=404, field="model"
    )
