"""The OpenID Connect relying party: a provider's discovery document and keys, the authorization request, the
code exchange and the ID token's checks.

Authlib's lower-level pieces do the protocol work: PKCE's S256 challenge (`authlib.oauth2.rfc7636`), random
values (`authlib.common.security`) and the ID token's claims checks (`authlib.oidc.core.CodeIDToken`), the
signature through joserfc (Authlib's own JOSE library, which it depends on). Not its Starlette integration:
that keeps `state`, `nonce` and the PKCE verifier in a server-side session this app does not have; here they
ride in a sealed, short-lived cookie of the browser that started the login (federation/service.py).
HTTP goes through httpx2 (the maintained httpx), with short timeouts: a provider that does not answer costs
a request seconds, not a worker.
"""

import base64
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import httpx2
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from ..config import OidcProvider
from .exceptions import FederationError

METADATA_SECONDS = 3600  # a discovery document and its keys are read again after this
KEYS_REFETCH_SECONDS = 60  # an ID token signed with an unknown key reads the keys again, at most this often
TIMEOUT = httpx2.Timeout(10.0, connect=5.0)


def unavailable(provider: OidcProvider, what: str) -> FederationError:
    return FederationError(
        502, "provider_unavailable", f"{provider.label or provider.name} did not answer as expected ({what}); try again later"
    )


def invalid_id_token(why: str) -> FederationError:
    return FederationError(400, "invalid_id_token", f"The provider's answer did not prove who you are ({why}); nothing was done")


@dataclass
class _Cached:
    value: dict[str, Any]
    read_at: float


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str  # where the browser goes: the provider's authorization endpoint with our parameters
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class ProvenIdentity:
    """What a provider proved: its `sub` for the person, and what it says of them."""

    provider: str
    subject: str
    email: str | None
    email_verified: bool
    name: str | None
    auth_time: int | None


@dataclass
class ProviderClient:
    """One configured provider. Its discovery document and keys are read when first needed, then kept."""

    config: OidcProvider
    redirect_uri: str
    http: httpx2.Client
    leeway: int = 30
    _metadata: _Cached | None = None
    _keys: _Cached | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def issuer(self) -> str:
        return self.config.issuer

    @property
    def cached_metadata(self) -> dict[str, Any] | None:
        return self._metadata.value if self._metadata is not None else None

    def metadata(self) -> dict[str, Any]:
        """The discovery document (OpenID Connect Discovery 1.0), whose `issuer` must be the one configured."""
        with self._lock:
            if self._metadata is not None and time.monotonic() - self._metadata.read_at < METADATA_SECONDS:
                return self._metadata.value
        document = self._get_json(self.issuer.rstrip("/") + "/.well-known/openid-configuration", "its discovery document")
        if document.get("issuer") != self.issuer:
            # Discovery §4.3: a document that names another issuer is not this provider's (a mix-up, or a wrong setting).
            raise unavailable(self.config, "its discovery document names another issuer")
        for endpoint in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(endpoint), str):
                raise unavailable(self.config, f"its discovery document has no {endpoint}")
        with self._lock:
            self._metadata = _Cached(document, time.monotonic())
        return document

    def keys(self, *, refresh: bool = False) -> KeySet:
        """The provider's signing keys (its JWKS), read again on `refresh` (a key id we do not know: a rotation)."""
        with self._lock:
            cached = self._keys
        age = time.monotonic() - cached.read_at if cached else None
        if cached is None or age is None or age >= METADATA_SECONDS or (refresh and age >= KEYS_REFETCH_SECONDS):
            cached = _Cached(self._get_json(self.metadata()["jwks_uri"], "its keys"), time.monotonic())
            with self._lock:
                self._keys = cached
        try:
            return KeySet.import_key_set(cached.value)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError):
            raise unavailable(self.config, "its keys could not be read") from None

    def authorization_request(self) -> AuthorizationRequest:
        """Authorization code flow with PKCE (S256), a fresh `state` and `nonce`, and our exact redirect URI."""
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        query = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": " ".join(self.config.scopes or []),
            "state": state,
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        endpoint = self.metadata()["authorization_endpoint"]
        separator = "&" if "?" in endpoint else "?"
        return AuthorizationRequest(f"{endpoint}{separator}{urlencode(query)}", state, nonce, verifier)

    def exchange(self, code: str, code_verifier: str) -> dict[str, Any]:
        """Trade the code for the provider's tokens (client_secret_basic, RFC 6749 §2.3.1: id and secret form-encoded first)."""
        secret = self.config.client_secret.get_secret_value()
        basic = base64.b64encode(f"{quote(self.config.client_id, safe='')}:{quote(secret, safe='')}".encode()).decode()
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri, "code_verifier": code_verifier}
        try:
            answer = self.http.post(
                self.metadata()["token_endpoint"], data=form, headers={"Authorization": f"Basic {basic}", "Accept": "application/json"}
            )
        except httpx2.HTTPError:
            raise unavailable(self.config, "its token endpoint") from None
        body = _json_object(answer)
        if answer.status_code == 400 and body.get("error") == "invalid_grant":
            # The code was used already, has expired, or was not issued to us for this redirect: a replay, or a stale page.
            raise FederationError(400, "invalid_grant", "That login was used already or has expired: please log in again")
        if answer.status_code != 200 or not isinstance(body.get("id_token"), str):
            raise unavailable(self.config, "its token endpoint refused the code")
        return body

    def validate_id_token(self, id_token: str, nonce: str, access_token: str | None = None) -> dict[str, Any]:
        """The ID token's claims, once its signature (the provider's keys, an asymmetric algorithm it
        announces), `iss`, `aud` (and `azp`), `exp`, `iat` and `nonce` (and `at_hash`) are checked."""
        metadata = self.metadata()
        announced = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        # Never "none", never HS* (signed with our client secret: anyone who has it could forge one).
        algorithms = [alg for alg in announced if isinstance(alg, str) and alg != "none" and not alg.startswith("HS")]
        registry = JWSRegistry(algorithms=algorithms)
        try:
            try:
                token = jwt.decode(id_token, self.keys(), registry=registry)
            except InvalidKeyIdError:  # signed with a key we have not seen yet: the provider rotated its keys
                token = jwt.decode(id_token, self.keys(refresh=True), registry=registry)
        except (JoseError, ValueError):
            raise invalid_id_token("its signature is not the provider's") from None
        options: dict[str, Any] = {
            "iss": {"essential": True, "value": self.issuer},
            "aud": {"essential": True, "values": [self.config.client_id]},
        }
        params = {"nonce": nonce, "client_id": self.config.client_id, "access_token": access_token}
        claims = CodeIDToken(token.claims, token.header, options, params)
        try:
            claims.validate(now=int(time.time()), leeway=self.leeway)
        except ExpiredTokenError:
            raise invalid_id_token("it has expired") from None
        except JoseError as refused:
            raise invalid_id_token(f"claim {getattr(refused, 'claim', '') or refused.error}") from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not 0 < len(subject) <= 255:
            raise invalid_id_token("claim sub")
        return dict(claims)

    def userinfo(self, access_token: str, subject: str) -> dict[str, Any]:
        """The UserInfo endpoint's claims, when the ID token does not carry the address; its `sub` must be the ID token's."""
        endpoint = self.metadata().get("userinfo_endpoint")
        if not isinstance(endpoint, str):
            return {}
        try:
            answer = self.http.get(endpoint, headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"})
        except httpx2.HTTPError:
            raise unavailable(self.config, "its userinfo endpoint") from None
        body = _json_object(answer)
        if answer.status_code != 200:
            raise unavailable(self.config, "its userinfo endpoint")
        if body.get("sub") != subject:  # Core §5.3.2: else the answer may be about someone else
            raise invalid_id_token("userinfo is about another person")
        return body

    def prove(self, code: str, code_verifier: str, nonce: str) -> ProvenIdentity:
        """The whole back channel: the code for tokens, the ID token checked, the address (UserInfo if need be).
        The provider's tokens are dropped here: we never keep them (our own session takes over)."""
        tokens = self.exchange(code, code_verifier)
        access_token = tokens.get("access_token") if isinstance(tokens.get("access_token"), str) else None
        claims = self.validate_id_token(tokens["id_token"], nonce, access_token)
        if "email" not in claims and access_token is not None and "email" in (self.config.scopes or []):
            claims = {**self.userinfo(access_token, claims["sub"]), **claims}
        email = claims.get("email")
        auth_time = claims.get("auth_time")
        return ProvenIdentity(
            provider=self.name,
            subject=claims["sub"],
            email=email.lower() if isinstance(email, str) and "@" in email and len(email) <= 254 else None,
            email_verified=claims.get("email_verified") is True,  # only a provider's explicit true counts
            name=claims.get("name") if isinstance(claims.get("name"), str) else None,
            auth_time=int(auth_time) if isinstance(auth_time, int | float) and not isinstance(auth_time, bool) else None,
        )

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            answer = self.http.get(url, headers={"Accept": "application/json"})
        except httpx2.HTTPError:
            raise unavailable(self.config, what) from None
        body = _json_object(answer)
        if answer.status_code != 200 or not body:
            raise unavailable(self.config, what)
        return body


def _json_object(answer: httpx2.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
