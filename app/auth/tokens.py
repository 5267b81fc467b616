"""Signed, expiring connection tokens (JWT, HS256) carrying a user and their businesses."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import jwt

from app.channels import GRANT_RULE, ID_RULE, is_valid_grant, is_valid_id

ALGORITHM = "HS256"
DURATION = re.compile(r"(\d+)([smhd])")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class TokenError(ValueError):
    """The token is missing, malformed, tampered with or expired; the message says which."""


@dataclass(frozen=True)
class Claims:
    user_id: str
    business_ids: tuple[str, ...]
    expires_at: float
    channels: tuple[str, ...] = ()
    admin: bool = False


def parse_duration(text: str) -> int:
    match = DURATION.fullmatch(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"--ttl {text!r}: give a positive duration such as 90s, 15m, 1h or 7d")
    return int(match.group(1)) * UNIT_SECONDS[match.group(2)]


def issue_token(
    secret: str,
    user_id: str,
    business_ids: list[str],
    ttl_seconds: int,
    channels: list[str] | None = None,
    admin: bool = False,
) -> str:
    for value in (user_id, *business_ids):
        if not is_valid_id(value):
            raise ValueError(f"{value!r} is not a valid id: use {ID_RULE}")
    for grant in channels or ():
        if not is_valid_grant(grant):
            raise ValueError(f"--channel {grant!r}: give {GRANT_RULE}")
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": user_id,
        "businesses": business_ids,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if channels:
        claims["channels"] = channels
    if admin:
        claims["admin"] = True
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str) -> Claims:
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp"]}
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("token has expired") from None
    except jwt.InvalidSignatureError:
        raise TokenError("token signature does not match") from None
    except jwt.InvalidTokenError as exc:
        raise TokenError(f"token is invalid: {exc}") from None
    user_id = claims["sub"]
    businesses = claims.get("businesses", [])
    if not is_valid_id(user_id):
        raise TokenError("token's 'sub' is not a valid user id")
    if not isinstance(businesses, list) or not all(is_valid_id(b) for b in businesses):
        raise TokenError("token's 'businesses' must be a list of ids")
    channels = claims.get("channels", [])
    if not isinstance(channels, list) or not all(is_valid_grant(c) for c in channels):
        raise TokenError("token's 'channels' must be a list of channel names or 'kind:*'")
    admin = claims.get("admin", False)
    if not isinstance(admin, bool):
        raise TokenError("token's 'admin' must be true or false")
    return Claims(
        user_id=user_id,
        business_ids=tuple(businesses),
        expires_at=float(claims["exp"]),
        channels=tuple(channels),
        admin=admin,
    )
