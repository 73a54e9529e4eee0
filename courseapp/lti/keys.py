"""The tool's signing keys: made, rotated, and published as a JWKS (current and previous key)."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pylti1p3.registration import Registration

from courseapp.lti.models import ToolKey

# How many of the newest keys the JWKS serves: the signing key and the one it replaced.
PUBLISHED_KEYS = 2


def _new_pem_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def key_rotate() -> ToolKey:
    """Make a new signing key; the previous one stays published until the next rotation."""
    private, public = _new_pem_pair()
    # The kid is the key's RFC 7638 thumbprint: what pylti1p3 puts in the header of what it signs.
    kid = str(Registration.get_jwk(public)["kid"])
    return ToolKey.objects.create(kid=kid, private_key=private, public_key=public)


def current_key() -> ToolKey:
    """The signing key, made on first use. Two first uses at once may make two keys: harmless (the
    newest signs, both are published)."""
    key = ToolKey.objects.order_by("-created_at", "-id").first()
    return key if key is not None else key_rotate()


def published_jwks() -> dict[str, list[dict[str, Any]]]:
    """The JWKS at /lti/jwks/: the current and the previous public key, each with its kid."""
    current_key()
    keys = ToolKey.objects.order_by("-created_at", "-id")[:PUBLISHED_KEYS]
    return {"keys": [dict(Registration.get_jwk(k.public_key)) for k in keys]}
