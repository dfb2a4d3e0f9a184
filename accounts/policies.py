"""Who may decide on publishers and keys in the admin: each rule once.

Staff status opens the admin; deciding an application (approve, reject, verify) or
revoking someone's API key also needs the Django permission on that model.
"""

REVIEW_PUBLISHERS_PERMISSION = "accounts.change_publisherprofile"
REVOKE_KEYS_PERMISSION = "accounts.change_apikey"


def _staff_with(user, permission: str) -> bool:
    return bool(user and user.is_active and user.is_staff and user.has_perm(permission))


def may_review_publishers(user) -> bool:
    return _staff_with(user, REVIEW_PUBLISHERS_PERMISSION)


def may_revoke_api_keys(user) -> bool:
    return _staff_with(user, REVOKE_KEYS_PERMISSION)
