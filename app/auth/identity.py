"""Who is on the other end of a connection, as far as livewatch trusts it."""

from __future__ import annotations

from dataclasses import dataclass

from app.channels import GLOBAL, business_channel, user_channel


@dataclass(frozen=True)
class Identity:
    user_id: str | None = None
    business_ids: tuple[str, ...] = ()
    expires_at: float | None = None
    grants: tuple[str, ...] = ()  # further channels it may read: names or `kind:*`
    admin: bool = False  # may read every channel and see every figure

    def auto_channels(self) -> list[str]:
        """The channels a connection is subscribed to the moment it opens."""
        channels = [user_channel(self.user_id)] if self.user_id else []
        channels += [business_channel(business) for business in self.business_ids]
        return [*channels, GLOBAL]
