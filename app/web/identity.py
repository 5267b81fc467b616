"""Who an HTTP or WebSocket request comes from: the query string in open mode, a signed
token in token mode (docs/protocol.md, Connecting)."""

from __future__ import annotations

from aiohttp import web

from app.auth.identity import Identity
from app.auth.tokens import TokenError, verify_token
from app.channels import ID_RULE, is_valid_id
from app.settings import Settings
from app.web import keys
from app.web.errors import json_error


def identity_from_query(request: web.Request) -> Identity:
    """Open mode: identity comes unchecked from the query string."""
    user_id = request.query.get("user_id") or None
    business_id = request.query.get("business_id") or None
    for name, value in (("user_id", user_id), ("business_id", business_id)):
        if value is not None and not is_valid_id(value):
            raise json_error(400, f"'{name}' must be {ID_RULE}", name)
    return Identity(user_id=user_id, business_ids=(business_id,) if business_id else ())


def identity_from_token(
    request: web.Request, secret: str, query_ids_allowed: bool = False
) -> Identity:
    for name in ("user_id", "business_id"):
        if name in request.query and not query_ids_allowed:
            raise json_error(
                400, f"'{name}' is not accepted here: identity comes from the signed token", name
            )
    token = request.query.get("token") or bearer_token(request)
    if not token:
        raise json_error(
            401,
            "a signed token is required: send 'Authorization: Bearer <token>' or ?token=...",
            "token",
        )
    try:
        claims = verify_token(secret, token)
    except TokenError as exc:
        raise json_error(401, str(exc), "token") from None
    return Identity(
        claims.user_id, claims.business_ids, claims.expires_at, claims.channels, claims.admin
    )


def authenticate(request: web.Request, settings: Settings) -> Identity:
    if settings.secret is None:
        return identity_from_query(request)
    return identity_from_token(request, settings.secret)


def require_reader(request: web.Request) -> Identity:
    """Who reads a JSON API: anyone in open mode; with a secret, a valid token's holder."""
    settings = request.app[keys.SETTINGS]
    if settings.secret is None:
        return Identity(admin=True)
    return identity_from_token(request, settings.secret, query_ids_allowed=True)


def bearer_token(request: web.Request) -> str | None:
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    return presented.strip() or None if scheme.lower() == "bearer" else None
