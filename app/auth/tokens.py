"""Signed, expiring connection tokens (JWT, HS256) carrying a user and their businesses."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import jwt

from app.channels import ID_RULE, is_valid_id

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


def parse_duration(text: str) -> int:
    match = DURATION.fullmatch(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"--ttl {text!r}: give a positive duration such as 90s, 15m, 1h or 7d")
    return int(match.group(1)) * UNIT_SECONDS[match.group(2)]


def issue_token(secret: str, user_id: str, business_ids: list[str], ttl_seconds: int) -> str:
    for value in (user_id, *business_ids):
        if not is_valid_id(value):
            raise ValueError(f"{value!r} is not a valid id: use {ID_RULE}")
    now = int(time.time())
    claims = {"sub": user_id, "businesses": business_ids, "iat": now, "exp": now + ttl_seconds}
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
    return Claims(user_id=user_id, business_ids=tuple(businesses), expires_at=float(claims["exp"]))
