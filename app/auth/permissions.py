"""Who may read which channel. Deny by default once connections are authenticated."""

from __future__ import annotations

from app.auth.identity import Identity
from app.channels import PUBLIC_CHANNELS, ChannelKind, grant_covers, split


def may_read(identity: Identity, channel: str, open_mode: bool) -> bool:
    if open_mode or identity.admin or channel in PUBLIC_CHANNELS:
        return True
    if any(grant_covers(grant, channel) for grant in identity.grants):
        return True
    kind, target = split(channel)
    if kind == ChannelKind.USER:
        return target == identity.user_id
    if kind == ChannelKind.BUSINESS:
        return target in identity.business_ids
    return False
