"""The App's identity and GitHub's two kinds of credentials: the App JWT and installation tokens.

The rules are GitHub's: a JWT is RS256-signed with the App's private key, `iss` is the App id (string or
number), `exp` is in the future and at most 10 minutes after `iat`. An installation token is valid until it
expires or is revoked, and only for its installation's repositories.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

DOCS = "https://docs.github.com/rest"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class AuthError(Exception):
    """A credential GitHub would refuse with 401 and this message."""


@dataclass
class AppIdentity:
    app_id: int
    slug: str
    private_key_pem: str
    public_key: rsa.RSAPublicKey
    webhook_secret: str

    @classmethod
    def generate(cls, app_id: int, slug: str = "prguard-test") -> AppIdentity:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        return cls(app_id, slug, pem, key.public_key(), secrets.token_hex(20))

    def make_jwt(self, lifetime: timedelta = timedelta(minutes=9)) -> str:
        """A JWT as an App would make it (iat a minute in the past against clock drift)."""
        iat = datetime.now(UTC) - timedelta(seconds=60)
        payload = {"iss": str(self.app_id), "iat": iat, "exp": iat + lifetime}
        return jwt.encode(payload, self.private_key_pem, algorithm="RS256")

    def verify_jwt(self, token: str) -> None:
        try:
            claims = jwt.decode(
                token,
                self.public_key,
                algorithms=["RS256"],
                options={"require": ["iat", "exp", "iss"], "verify_iat": False},
                leeway=0,
            )
        except jwt.ExpiredSignatureError:
            raise AuthError(
                "'Expiration time' claim ('exp') must be a numeric value representing the future "
                "time at which the assertion expires"
            ) from None
        except jwt.PyJWTError:
            raise AuthError("A JSON web token could not be decoded") from None
        if str(claims["iss"]) != str(self.app_id):
            raise AuthError("Integration not found")
        if claims["exp"] - claims["iat"] > 600:
            raise AuthError("'Expiration time' claim ('exp') is too far in the future")
        if claims["iat"] > time.time() + 60:
            raise AuthError(
                "'Issued at' claim ('iat') must be an Integer representing the time that the "
                "assertion was issued"
            )


@dataclass
class Token:
    value: str
    installation_id: int
    expires_at: float
    revoked: bool = False


class TokenStore:
    """Installation tokens minted so far; thread-safe because tests revoke them from their own thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, Token] = {}
        self.ttl = timedelta(hours=1)
        self.mints = 0

    def mint(self, installation_id: int) -> Token:
        with self._lock:
            # Whole seconds: `expires_at` is sent with second precision and clients parse it back.
            expires = int(time.time() + self.ttl.total_seconds())
            token = Token(
                "ghs_" + secrets.token_urlsafe(30).replace("-", "A").replace("_", "b"),
                installation_id,
                expires,
            )
            self._tokens[token.value] = token
            self.mints += 1
            return token

    def check(self, value: str) -> Token:
        with self._lock:
            token = self._tokens.get(value)
            if token is None or token.revoked or token.expires_at <= time.time():
                raise AuthError("Bad credentials")
            return token

    def expire_all(self) -> None:
        with self._lock:
            for token in self._tokens.values():
                token.expires_at = min(token.expires_at, time.time() - 1)

    def revoke_all(self) -> None:
        with self._lock:
            for token in self._tokens.values():
                token.revoked = True


def expires_at_text(token: Token) -> str:
    return datetime.fromtimestamp(token.expires_at, UTC).strftime(TIME_FORMAT)


def bearer(header: str | None) -> str | None:
    """The credential in `Authorization: token X` or `Authorization: Bearer X`."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() not in ("token", "bearer") or not value.strip():
        return None
    return value.strip()
