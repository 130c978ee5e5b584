"""The server's token-signing key (ES256) and its public JWKS.

The P-256 private key is derived from the server's secret key (HMAC-SHA256 of
the secret with a fixed label), so every process sharing `TENANTRY_SECRET_KEY`
(or the data directory's `secret_key` file) signs with the same key without
storing or coordinating anything; changing the secret rotates the key. ES256
rather than Ed25519: OpenSSL's P-256 verifies about twice as fast here, and
verification speed is what integrating apps pay for.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey

from tenantry.core.config import Settings

ALGORITHM = "ES256"
_LABEL = b"tenantry/signing-key/es256/v1"
# The order of the P-256 group: private scalars are 1 … n-1.
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


@lru_cache(maxsize=4)
def _key_for(secret: bytes) -> ECKey:
    digest = hmac.new(secret, _LABEL, hashlib.sha512).digest()
    scalar = int.from_bytes(digest, "big") % (_P256_ORDER - 1) + 1
    key = ECKey.import_key(ec.derive_private_key(scalar, ec.SECP256R1()))
    key.ensure_kid()
    return key


def signing_key(settings: Settings) -> ECKey:
    """The private signing key (with its `kid`, the RFC 7638 thumbprint)."""
    return _key_for(settings.signing_secret)


def jwks(settings: Settings) -> dict[str, Any]:
    """The public keys apps verify tokens with, as served at `/.well-known/jwks.json`."""
    key = signing_key(settings)
    public = key.as_dict(private=False)
    return {"keys": [public | {"kid": key.kid, "use": "sig", "alg": ALGORITHM}]}
