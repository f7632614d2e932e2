"""PasetoConfig: everything the PASETO dependency needs, bound to one app (or process-wide with `load_config`)."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from .cache import VerifiedTokens
from .keys import KeyRing, Purpose

__all__ = ["DenylistLoader", "PasetoConfig", "TokenLocation"]

TokenLocation = Literal["headers", "cookies"]
# Called with a verified token's claims; True means the token has been revoked.
DenylistLoader = Callable[[Mapping[str, Any]], bool]


def _seconds(value: int | float | timedelta) -> timedelta:
    return value if isinstance(value, timedelta) else timedelta(seconds=value)


@dataclass
class PasetoConfig:
    keys: KeyRing
    access_token_expires: timedelta = timedelta(minutes=15)
    refresh_token_expires: timedelta = timedelta(days=14)
    leeway: timedelta = timedelta(0)
    issuer: str | None = None  # written into new tokens and required of every token when set
    audience: str | None = None  # default `aud` of new tokens, and required of every token when set
    token_location: frozenset[TokenLocation] = frozenset({"headers"})
    header_name: str = "Authorization"
    header_type: str = "Bearer"
    max_token_length: int = 4096  # longer headers or cookies are refused before any parsing
    # Cookie transport (browsers).
    access_cookie_name: str = "access_token"
    refresh_cookie_name: str = "refresh_token"
    access_cookie_path: str = "/"
    refresh_cookie_path: str = "/refresh"
    cookie_domain: str | None = None
    cookie_secure: bool = True
    cookie_samesite: Literal["lax", "strict", "none"] = "lax"
    persistent_cookies: bool = False  # True: cookies carry Max-Age (their token's lifetime) and outlive the browser session
    csrf_protect: bool = True
    csrf_methods: frozenset[str] = frozenset({"POST", "PUT", "PATCH", "DELETE"})
    csrf_header_name: str = "X-CSRF-Token"
    access_csrf_cookie_name: str = "csrf_access_token"
    refresh_csrf_cookie_name: str = "csrf_refresh_token"
    denylist_loader: DenylistLoader | None = field(default=None, repr=False)
    verified_tokens: VerifiedTokens = field(default_factory=VerifiedTokens, repr=False, compare=False)

    @property
    def token_header(self) -> str:
        """The only version and purpose accepted: `v4.local.` or `v4.public.`."""
        return f"v4.{self.keys.purpose}."

    @property
    def purpose(self) -> Purpose:
        return self.keys.purpose

    @classmethod
    def from_settings(cls, settings: Any) -> "PasetoConfig":
        """Read a settings object with the published library's `authpaseto_*` fields."""

        def get(name: str, default: Any = None) -> Any:
            return getattr(settings, f"authpaseto_{name}", default)

        purpose = get("purpose", "local")
        if get("secret_key"):
            keys = KeyRing.from_raw_secret(get("secret_key"))
        elif get("private_key"):
            keys = KeyRing.from_paserk("public", get("private_key"), get("previous_keys", ()))
        elif get("local_key"):
            keys = KeyRing.from_paserk("local", get("local_key"), get("previous_keys", ()))
        else:
            raise ValueError(f"settings for purpose {purpose!r} name no key (authpaseto_secret_key, _local_key or _private_key)")
        options: dict[str, Any] = {"keys": keys}
        for name in ("access_token_expires", "refresh_token_expires"):
            if get(name) is not None:
                options[name] = _seconds(get(name))
        if get("decode_leeway") is not None:
            options["leeway"] = _seconds(get("decode_leeway"))
        for name, option in [("encode_issuer", "issuer"), ("decode_audience", "audience")]:
            if get(name) is not None:
                options[option] = get(name)
        for name in ("header_name", "header_type", "cookie_secure", "cookie_samesite", "csrf_protect"):
            if get(name) is not None:
                options[name] = get(name)
        if get("token_location") is not None:
            options["token_location"] = frozenset(get("token_location"))
        return cls(**options)
