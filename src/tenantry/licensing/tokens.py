"""Signed entitlement tokens: issued by Tenantry, verified offline by integrating apps.

A token is a JWT (compact JWS) signed with ES256 by the server's key, whose
public half is published at `/.well-known/jwks.json`. Claims:

    iss     the server's base URL           aud   "tenantry:entitlements"
    sub     the user's id                   tid   the user's tenant id
    iat/nbf/exp  issued, valid from, expires (short-lived: 5 minutes by default)
    ent     {entitlement name: limit}       (an integer, or "unlimited")
    plans   [enabled service plan names]    skus  [offers and SKUs they come from]

To verify without calling Tenantry, fetch the JWKS once (refresh it when a
token names an unknown `kid`) and keep one verifier::

    from tenantry.licensing.tokens import EntitlementVerifier, fetch_jwks

    verifier = EntitlementVerifier(fetch_jwks("https://tenantry.example"),
                                   issuer="https://tenantry.example")
    claims = verifier.verify(token)        # raises InvalidEntitlementToken
    if claims.allows("meetings.max_participants", 50): ...

`verify_token(token, jwks)` does the same in one call. A verifier remembers the
tokens it has verified until they expire, so an app that sees the same token on
every request of a user pays for the signature check once.
"""

from __future__ import annotations

import binascii
import json
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc import jwt
from joserfc.jwk import ECKey

ALGORITHM = "ES256"
AUDIENCE = "tenantry:entitlements"
UNLIMITED = "unlimited"
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


class InvalidEntitlementToken(ValueError):
    """The token is malformed, not signed by a known key, expired, or not for this audience."""


@dataclass(frozen=True)
class EntitlementClaims:
    """What a verified token says about a user."""

    user_id: str
    tenant_id: str
    limits: dict[str, int | str]
    service_plans: tuple[str, ...]
    skus: tuple[str, ...]
    expires_at: int
    claims: dict[str, Any]

    def allows(self, name: str, value: int | None = None) -> bool:
        """Whether `value` fits the limit `name` (None: whether the limit exists and is not 0)."""
        limit = self.limits.get(name)
        if limit is None:
            return False
        if limit == UNLIMITED:
            return True
        return int(limit) > 0 if value is None else value <= int(limit)


def issue(
    *,
    key: ECKey,
    issuer: str,
    user_id: uuid.UUID,
    tenant_id: uuid.UUID,
    limits: dict[str, int | str],
    service_plans: list[str],
    skus: list[str],
    now: datetime,
    ttl_seconds: int,
) -> str:
    """A signed entitlement token for a user."""
    issued_at = int(now.timestamp())
    claims = {
        "iss": issuer,
        "aud": AUDIENCE,
        "sub": str(user_id),
        "tid": str(tenant_id),
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + ttl_seconds,
        "jti": uuid.uuid4().hex,
        "ent": limits,
        "plans": service_plans,
        "skus": skus,
    }
    return jwt.encode({"alg": ALGORITHM, "kid": key.kid, "typ": "JWT"}, claims, key)


def _b64decode(segment: str) -> bytes:
    """base64url without padding (RFC 7515), decoded by binascii directly: the standard
    library's `urlsafe_b64decode` costs three times as much per call."""
    standard = segment.replace("-", "+").replace("_", "/")
    return binascii.a2b_base64(standard + "=" * (-len(standard) % 4))


class EntitlementVerifier:
    """Verifies entitlement tokens against a JWKS, offline."""

    def __init__(
        self,
        jwks: dict[str, Any],
        *,
        issuer: str | None = None,
        audience: str = AUDIENCE,
        leeway_seconds: int = 30,
        cache_size: int = 10_000,  # 0: check the signature every time
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway_seconds
        self.cache_size = cache_size
        self._cache: OrderedDict[str, EntitlementClaims] = OrderedDict()
        # Every token of one key has the same header: its key is looked up once per header.
        self._key_of_header: dict[str, ec.EllipticCurvePublicKey] = {}
        self._keys: dict[str | None, ec.EllipticCurvePublicKey] = {}
        for entry in jwks.get("keys", []):
            if entry.get("kty") != "EC" or entry.get("crv") != "P-256":
                continue
            if entry.get("alg", ALGORITHM) != ALGORITHM or entry.get("use", "sig") != "sig":
                continue
            public = {k: v for k, v in entry.items() if k in ("kty", "crv", "x", "y")}
            self._keys[entry.get("kid")] = ECKey.import_key(public).public_key
        if not self._keys:
            raise ValueError("the JWKS holds no ES256 signing key")

    def verify(self, token: str, *, now: float | None = None) -> EntitlementClaims:
        """The claims of a valid token; InvalidEntitlementToken otherwise."""
        moment = time.time() if now is None else now
        cached = self._cache.get(token)
        if cached is not None:
            if moment < cached.expires_at + self.leeway:
                return cached
            del self._cache[token]
        claims = self._check(token, moment)
        if self.cache_size > 0:
            if len(self._cache) >= self.cache_size:
                self._cache.popitem(last=False)
            self._cache[token] = claims
        return claims

    def _key_for(self, header_segment: str) -> ec.EllipticCurvePublicKey:
        """The key that signed tokens with this header (remembered: one per key in practice)."""
        key = self._key_of_header.get(header_segment)
        if key is not None:
            return key
        try:
            header = json.loads(_b64decode(header_segment))
        except (ValueError, binascii.Error) as exc:
            raise InvalidEntitlementToken("malformed token") from exc
        if not isinstance(header, dict) or header.get("alg") != ALGORITHM:
            raise InvalidEntitlementToken("the token is not signed with ES256")
        key = self._keys.get(header.get("kid"))
        if key is None and len(self._keys) == 1 and "kid" not in header:
            key = next(iter(self._keys.values()))
        if key is None:
            raise InvalidEntitlementToken("the token is signed by an unknown key: refresh the JWKS")
        if len(self._key_of_header) < 64:  # bounded: forged headers cannot grow it
            self._key_of_header[header_segment] = key
        return key

    def _check(self, token: str, moment: float) -> EntitlementClaims:
        try:
            header_segment, payload_segment, signature_segment = token.split(".")
            signature = _b64decode(signature_segment)
        except (ValueError, binascii.Error) as exc:
            raise InvalidEntitlementToken("malformed token") from exc
        key = self._key_for(header_segment)
        if len(signature) != 64:
            raise InvalidEntitlementToken("malformed signature")
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        try:
            key.verify(der, f"{header_segment}.{payload_segment}".encode(), _ECDSA_SHA256)
        except InvalidSignature as exc:
            raise InvalidEntitlementToken("the signature does not match") from exc
        try:
            claims = json.loads(_b64decode(payload_segment))
            expires_at = int(claims["exp"])
            not_before = int(claims.get("nbf", 0))
        except (ValueError, binascii.Error, KeyError, TypeError) as exc:
            raise InvalidEntitlementToken("malformed claims") from exc
        if moment >= expires_at + self.leeway:
            raise InvalidEntitlementToken("the token has expired")
        if moment + self.leeway < not_before:
            raise InvalidEntitlementToken("the token is not valid yet")
        if claims.get("aud") != self.audience:
            raise InvalidEntitlementToken("the token is not an entitlement token")
        if self.issuer is not None and claims.get("iss") != self.issuer:
            raise InvalidEntitlementToken("the token comes from another issuer")
        return EntitlementClaims(
            user_id=str(claims.get("sub")),
            tenant_id=str(claims.get("tid")),
            limits=dict(claims.get("ent") or {}),
            service_plans=tuple(claims.get("plans") or ()),
            skus=tuple(claims.get("skus") or ()),
            expires_at=expires_at,
            claims=claims,
        )


def verify_token(
    token: str, jwks: dict[str, Any], *, issuer: str | None = None, now: float | None = None
) -> EntitlementClaims:
    """Verify one entitlement token offline with the server's JWKS (see EntitlementVerifier)."""
    return EntitlementVerifier(jwks, issuer=issuer).verify(token, now=now)


def fetch_jwks(base_url: str, *, timeout: float = 10.0) -> dict[str, Any]:
    """The server's public keys, from `{base_url}/.well-known/jwks.json`."""
    response = httpx.get(f"{base_url.rstrip('/')}/.well-known/jwks.json", timeout=timeout)
    response.raise_for_status()
    return response.json()
