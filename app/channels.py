"""Channel names and ids: the grammar, the built-in kinds, and the words used to refuse them.

Every check of a channel name or an id, on the socket, over HTTP or in a token, comes here,
so a client sees the same rule whichever door it knocked on (docs/protocol.md, Channels).
"""

from __future__ import annotations

import re
from enum import StrEnum

CHANNEL_MAX_LENGTH = 256
ID_MAX_LENGTH = 200
ID_PATTERN = re.compile(rf"[A-Za-z0-9._@-]{{1,{ID_MAX_LENGTH}}}")
KIND = r"[a-z][a-z0-9_-]{0,31}"
CHANNEL_PATTERN = re.compile(rf"{KIND}(:[A-Za-z0-9._@-]{{1,{ID_MAX_LENGTH}}})?")
GRANT_PATTERN = re.compile(rf"{KIND}:\*")

ID_RULE = f"1-{ID_MAX_LENGTH} characters of A-Z a-z 0-9 . _ @ -"
CHANNEL_RULE = (
    "a string like 'global', 'system', 'user:42' or 'business:acme': a lower-case kind, "
    f"optionally ':' and an id of {ID_RULE}, at most {CHANNEL_MAX_LENGTH} characters"
)


class ChannelKind(StrEnum):
    """The part of a channel name before ':'. Any other kind counts as OTHER in metrics."""

    GLOBAL = "global"
    SYSTEM = "system"
    USER = "user"
    BUSINESS = "business"
    OTHER = "other"


GLOBAL = ChannelKind.GLOBAL.value
SYSTEM = ChannelKind.SYSTEM.value
# Every authenticated client may read these.
PUBLIC_CHANNELS = frozenset({GLOBAL, SYSTEM})


def is_valid_id(value: object) -> bool:
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


def is_valid_channel(channel: object) -> bool:
    return (
        isinstance(channel, str)
        and len(channel) <= CHANNEL_MAX_LENGTH
        and CHANNEL_PATTERN.fullmatch(channel) is not None
    )


GRANT_RULE = f"a channel name, or 'kind:*' for every channel of a kind ({CHANNEL_RULE})"


def is_valid_grant(grant: object) -> bool:
    """A channel a token may grant: an exact name, or `kind:*` for every id of a kind."""
    return is_valid_channel(grant) or (
        isinstance(grant, str) and GRANT_PATTERN.fullmatch(grant) is not None
    )


def grant_covers(grant: str, channel: str) -> bool:
    if grant.endswith(":*"):
        return channel.startswith(grant[:-1]) and len(channel) > len(grant) - 1
    return grant == channel


def user_channel(user_id: str) -> str:
    return f"{ChannelKind.USER}:{user_id}"


def business_channel(business_id: str) -> str:
    return f"{ChannelKind.BUSINESS}:{business_id}"


def split(channel: str) -> tuple[str, str]:
    """(kind, id) of a channel name; the id is empty for a bare kind such as 'global'."""
    kind, _, target = channel.partition(":")
    return kind, target


def kind_of(channel: str) -> ChannelKind:
    """The metric label of a channel: its kind if built in, else OTHER (keeps labels bounded)."""
    kind = split(channel)[0]
    try:
        return ChannelKind(kind)
    except ValueError:
        return ChannelKind.OTHER
