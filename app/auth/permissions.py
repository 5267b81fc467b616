"""Who may read which channel. Deny by default once connections are authenticated."""

from __future__ import annotations

from app.hub.connection import Identity

PUBLIC_CHANNELS = frozenset({"global", "system"})


def may_read(identity: Identity, channel: str, open_mode: bool) -> bool:
    if open_mode:
        return True
    if channel in PUBLIC_CHANNELS:
        return True
    kind, _, target = channel.partition(":")
    if kind == "user":
        return target == identity.user_id
    if kind == "business":
        return target in identity.business_ids
    return False
