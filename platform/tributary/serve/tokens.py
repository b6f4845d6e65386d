"""Access tokens: short-lived ES256 JWTs (issuer, audience, expiry, scopes) signed with the key
from the environment; the previous key still verifies until its tokens expire (rotation), and
the JWKS publishes both public keys. Only ES256 is accepted: `alg: none` and HMAC tokens made
with a public key are refused before any signature is checked.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ALGORITHM = "ES256"


class TokenError(Exception):
    """Why a token is refused (said to the caller; never the token itself)."""


def _public_jwk(key: ec.EllipticCurvePublicKey) -> dict:
    numbers = key.public_numbers()

    def b64(n: int) -> str:
        return base64.urlsafe_b64encode(n.to_bytes(32, "big")).decode().rstrip("=")

    jwk = {"kty": "EC", "crv": "P-256", "x": b64(numbers.x), "y": b64(numbers.y)}
    # RFC 7638 thumbprint as the key id: the same key always has the same kid.
    canonical = json.dumps(jwk, sort_keys=True, separators=(",", ":")).encode()
    kid = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).decode().rstrip("=")
    return {**jwk, "kid": kid, "use": "sig", "alg": ALGORITHM}


def _load_private(pem: str, name: str) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ValueError(
            f"{name} is not a PEM private key: make one with `tributary api keygen`"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError(
            f"{name} must be a P-256 (ES256) key: make one with `tributary api keygen`"
        )
    return key


def new_signing_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@dataclass(frozen=True)
class Claims:
    app: str
    scopes: frozenset[str]
    expires: int


class Signer:
    def __init__(self, current: str, previous: str | None, issuer: str, audience: str):
        self.key = _load_private(current, "TRIBUTARY_API_SIGNING_KEY")
        keys = [self.key.public_key()]
        if previous:
            keys.append(_load_private(previous, "TRIBUTARY_API_PREVIOUS_SIGNING_KEY").public_key())
        self.jwks = {"keys": [_public_jwk(k) for k in keys]}
        self.kid = self.jwks["keys"][0]["kid"]
        self._verifiers = {jwk["kid"]: k for jwk, k in zip(self.jwks["keys"], keys, strict=True)}
        self.issuer, self.audience = issuer, audience

    def issue(self, app: str, scopes: list[str], minutes: int) -> tuple[str, int]:
        now = int(time.time())
        claims = {
            "iss": self.issuer, "aud": self.audience, "sub": app, "iat": now, "nbf": now,
            "exp": now + minutes * 60, "jti": uuid.uuid4().hex, "scope": " ".join(scopes),
        }  # fmt: skip
        token = jwt.encode(claims, self.key, algorithm=ALGORITHM, headers={"kid": self.kid})
        return token, minutes * 60

    def verify(self, token: str) -> Claims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenError("not a JWT") from None
        if header.get("alg") != ALGORITHM:
            raise TokenError(f"tokens are signed {ALGORITHM}, not {str(header.get('alg'))[:10]!r}")
        key = self._verifiers.get(header.get("kid"))
        if key is None:
            raise TokenError("signed by a key this server does not know")
        try:
            claims = jwt.decode(
                token, key, algorithms=[ALGORITHM], audience=self.audience, issuer=self.issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "scope"]}, leeway=5,
            )  # fmt: skip
        except jwt.ExpiredSignatureError:
            raise TokenError("expired: ask /oauth/token for a new one") from None
        except jwt.InvalidAudienceError:
            raise TokenError("issued for another audience") from None
        except jwt.InvalidSignatureError:
            raise TokenError("the signature does not match") from None
        except jwt.PyJWTError as exc:
            raise TokenError(f"invalid: {type(exc).__name__}") from None
        return Claims(claims["sub"], frozenset(claims["scope"].split()), claims["exp"])
