"""Bearer-key authentication for /v1."""

from accounts.models import ApiKey
from accounts.services import api_key_authenticate
from inference.api.errors import OpenAIError, invalid_api_key


def authenticate(request) -> ApiKey:
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise OpenAIError(
            "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.",
            status=401,
            code="missing_api_key",
        )
    key = api_key_authenticate(raw=raw)
    if key is None:
        raise invalid_api_key("Incorrect API key provided, or the key was revoked.")
    return key
