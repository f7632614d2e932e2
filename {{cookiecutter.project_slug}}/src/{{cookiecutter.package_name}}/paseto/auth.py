"""AuthPASETO: the FastAPI dependency that finds, verifies and issues tokens for one request.

    def refresh(Authorize: AuthPASETO = Depends()):
        Authorize.paseto_required(refresh_token=True)
        return {"access_token": Authorize.create_access_token(subject=Authorize.get_subject())}

Configuration comes from the app (`app.state.authpaseto`, set by `bind_config`) or, for the
published library's module-level style, from the function registered with `load_config`.
"""

import hmac
import re
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any, ClassVar, Literal

from fastapi import Request, Response, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .config import DenylistLoader, PasetoConfig, TokenLocation
from .exceptions import (
    CSRFError,
    FreshTokenRequired,
    InvalidHeaderError,
    InvalidTokenError,
    MissingTokenError,
    RevokedTokenError,
    WrongTokenTypeError,
)
from .tokens import decode_token, encode_token

__all__ = ["AuthPASETO", "bind_config"]

# Declared only so the OpenAPI page shows an Authorize button; the header is parsed below.
bearer_scheme = HTTPBearer(auto_error=False, description="A PASETO access token (refresh token for /refresh)")
# Exactly "<scheme> <token>": one space, no extra parts; the scheme is case-insensitive (RFC 9110).
_AUTHORIZATION = re.compile(r"([A-Za-z]+) ([A-Za-z0-9._~+/=-]+)")


def bind_config(app: Any, config: PasetoConfig) -> None:
    """Give one app its own keys, lifetimes and denylist loader."""
    app.state.authpaseto = config


class AuthPASETO:
    _config_loader: ClassVar[Callable[[], Any] | None] = None
    _loaded_config: ClassVar[PasetoConfig | None] = None
    _denylist_loader: ClassVar[DenylistLoader | None] = None

    def __init__(
        self,
        request: Request,
        response: Response,
        _credentials: HTTPAuthorizationCredentials | None = Security(bearer_scheme),
    ) -> None:
        self._request = request
        self._response = response
        self._claims: dict[str, Any] | None = None
        self._token: str | None = None
        self.token_source: TokenLocation | None = None
        self.config = self._config_for(request)

    # -- configuration ---------------------------------------------------------------------------

    @classmethod
    def load_config(cls, loader: Callable[[], Any]) -> Callable[[], Any]:
        """Register a function returning settings with `authpaseto_*` fields (process-wide)."""
        cls._config_loader = loader
        cls._loaded_config = None
        return loader

    @classmethod
    def token_in_denylist_loader(cls, loader: DenylistLoader) -> DenylistLoader:
        """Register a function `(claims) -> bool` that says whether a token is revoked."""
        cls._denylist_loader = loader
        return loader

    @classmethod
    def _config_for(cls, request: Request) -> PasetoConfig:
        bound = getattr(request.app.state, "authpaseto", None)
        if isinstance(bound, PasetoConfig):
            return bound
        if cls._loaded_config is None:
            if cls._config_loader is None:
                raise RuntimeError("AuthPASETO has no configuration: call bind_config() or use @AuthPASETO.load_config")
            cls._loaded_config = PasetoConfig.from_settings(cls._config_loader())
        return cls._loaded_config

    # -- issuing ---------------------------------------------------------------------------------

    def create_access_token(
        self,
        subject: str,
        fresh: bool = False,
        expires_time: int | timedelta | None = None,
        audience: str | None = None,
        user_claims: dict[str, Any] | None = None,
    ) -> str:
        return self._create("access", subject, fresh, expires_time, audience, user_claims)

    def create_refresh_token(
        self,
        subject: str,
        expires_time: int | timedelta | None = None,
        audience: str | None = None,
        user_claims: dict[str, Any] | None = None,
    ) -> str:
        return self._create("refresh", subject, False, expires_time, audience, user_claims)

    def _create(
        self,
        token_type: Literal["access", "refresh"],
        subject: str,
        fresh: bool,
        expires_time: int | timedelta | None,
        audience: str | None,
        user_claims: dict[str, Any] | None,
    ) -> str:
        default = self.config.access_token_expires if token_type == "access" else self.config.refresh_token_expires
        lifetime = timedelta(seconds=expires_time) if isinstance(expires_time, int) else expires_time or default
        claims = dict(user_claims or {})
        # Bound into the token so that the readable CSRF cookie alone cannot authorise a request.
        claims.setdefault("csrf", secrets.token_urlsafe(24))
        return encode_token(
            self.config,
            subject=str(subject),
            token_type=token_type,
            expires_in=lifetime,
            fresh=fresh,
            audience=audience,
            claims=claims,
        )

    # -- verifying -------------------------------------------------------------------------------

    def paseto_required(
        self,
        optional: bool = False,
        fresh: bool = False,
        refresh_token: bool = False,
        type: str | None = None,  # noqa: A002 - the published library's parameter name
        csrf_token: str | None = None,
    ) -> None:
        """Require a valid token of the given type; `optional` lets requests without one through.

        `csrf_token`: the CSRF value of an HTML form, which cannot send headers (by default, the header's).
        """
        expected_type = type or ("refresh" if refresh_token else "access")
        token = self._find_token(expected_type)
        if token is None:
            if optional:
                return
            raise MissingTokenError()
        claims = decode_token(self.config, token)
        if claims["type"] != expected_type:
            raise WrongTokenTypeError(f"This route needs a token of type '{expected_type}'")
        if self._is_revoked(claims):  # before freshness: a logged-out session is told so, not asked to re-enter a password
            raise RevokedTokenError()
        if fresh and claims.get("fresh") is not True:
            raise FreshTokenRequired()
        if self.token_source == "cookies":
            self._check_csrf(claims, csrf_token)
        self._claims, self._token = claims, token

    def _is_revoked(self, claims: dict[str, Any]) -> bool:
        loader = self.config.denylist_loader if self.config.denylist_loader is not None else type(self)._denylist_loader
        return loader is not None and loader(claims)

    def _find_token(self, token_type: str) -> str | None:
        locations = self.config.token_location
        if "headers" in locations:
            values = self._request.headers.getlist(self.config.header_name)
            if values:
                self.token_source = "headers"
                return self._parse_header(values)
        if "cookies" in locations:
            name = self.config.refresh_cookie_name if token_type == "refresh" else self.config.access_cookie_name
            cookie = self._request.cookies.get(name)
            if cookie:
                self.token_source = "cookies"
                return cookie
        return None

    def _parse_header(self, values: list[str]) -> str:
        if len(values) != 1 or len(values[0]) > self.config.max_token_length + 16:
            raise InvalidHeaderError()
        match = _AUTHORIZATION.fullmatch(values[0])
        if match is None or match[1].lower() != self.config.header_type.lower():
            raise InvalidHeaderError()
        return match[2]

    def _check_csrf(self, claims: dict[str, Any], sent: str | None) -> None:
        if not self.config.csrf_protect or self._request.method not in self.config.csrf_methods:
            return
        if sent is None:
            sent = self._request.headers.get(self.config.csrf_header_name, "")
        expected = claims.get("csrf")
        if not isinstance(expected, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
            raise CSRFError()

    # -- reading the verified token ----------------------------------------------------------------

    def get_token_payload(self) -> dict[str, Any] | None:
        return self._claims

    def get_subject(self) -> str | None:
        return self._claims["sub"] if self._claims else None

    def get_jti(self) -> str | None:
        return self._claims["jti"] if self._claims else None

    def get_encoded_token(self) -> str | None:
        """The verified token as it was sent (e.g. to spend a refresh token)."""
        return self._token

    def get_raw_token(self) -> dict[str, Any] | None:
        """Alias of get_token_payload, as in the published library."""
        return self._claims

    # -- cookies (browsers) ------------------------------------------------------------------------

    def set_access_cookies(self, token: str, response: Response | None = None, max_age: int | None = None) -> None:
        self._set_cookies(token, "access", response, max_age)

    def set_refresh_cookies(self, token: str, response: Response | None = None, max_age: int | None = None) -> None:
        self._set_cookies(token, "refresh", response, max_age)

    def _set_cookies(self, token: str, token_type: str, response: Response | None, max_age: int | None) -> None:
        config, target = self.config, response or self._response
        claims = decode_token(config, token)
        if claims["type"] != token_type:
            raise InvalidTokenError(f"set_{token_type}_cookies needs a {token_type} token")
        is_access = token_type == "access"
        if max_age is None and config.persistent_cookies:
            lifetime = config.access_token_expires if is_access else config.refresh_token_expires
            max_age = int(lifetime.total_seconds())
        common: dict[str, Any] = {
            "max_age": max_age,
            "domain": config.cookie_domain,
            "secure": config.cookie_secure,
            "samesite": config.cookie_samesite,
        }
        target.set_cookie(
            config.access_cookie_name if is_access else config.refresh_cookie_name,
            token,
            path=config.access_cookie_path if is_access else config.refresh_cookie_path,
            httponly=True,
            **common,
        )
        if config.csrf_protect:
            # Readable by the page's script, which echoes it in the CSRF header; valid on every path.
            target.set_cookie(
                config.access_csrf_cookie_name if is_access else config.refresh_csrf_cookie_name,
                claims["csrf"],
                path="/",
                httponly=False,
                **common,
            )

    def unset_access_cookies(self, response: Response | None = None) -> None:
        self._unset(response, self.config.access_cookie_name, self.config.access_cookie_path, self.config.access_csrf_cookie_name)

    def unset_refresh_cookies(self, response: Response | None = None) -> None:
        self._unset(response, self.config.refresh_cookie_name, self.config.refresh_cookie_path, self.config.refresh_csrf_cookie_name)

    def unset_paseto_cookies(self, response: Response | None = None) -> None:
        self.unset_access_cookies(response)
        self.unset_refresh_cookies(response)

    def _unset(self, response: Response | None, name: str, path: str, csrf_name: str) -> None:
        target, config = response or self._response, self.config
        options: dict[str, Any] = {"domain": config.cookie_domain, "secure": config.cookie_secure, "samesite": config.cookie_samesite}
        target.delete_cookie(name, path=path, httponly=True, **options)
        target.delete_cookie(csrf_name, path="/", **options)
