"""Settings: every knob of the app in one place, read from the environment and `.env` once.

Each field is the variable `{{ cookiecutter.package_name | upper }}_<FIELD>`; `.env.example` documents them all.
"""

import os
from datetime import timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode, urlsplit

from pydantic import AfterValidator, AnyHttpUrl, BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .paseto import KeyRing, PasetoConfig, PurposeTokens, public_paserk

ENV_PREFIX = "{{ cookiecutter.package_name | upper }}_"


def _origin(value: str) -> str:
    """A web origin as browsers send it in `Origin`: `scheme://host[:port]`, lower-case, no path."""
    parts = urlsplit(value)
    origin = f"{parts.scheme}://{parts.netloc}"
    if parts.scheme not in ("http", "https") or not parts.hostname or value.rstrip("/") != origin:  # "*" and "null" too
        raise ValueError(f"{value!r} is not an origin like https://app.example.com (never * or null: requests carry credentials)")
    return origin.lower()


class IntrospectionClient(BaseModel):
    """A service allowed to ask POST /introspect about tokens (HTTP Basic): its id and the SHA-256 of its secret."""

    id: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
    secret_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class OidcProvider(BaseModel):
    """A provider people may log in with (federation/): an OpenID Connect one, found from its issuer's discovery
    document; or, with `preset: "github"`, GitHub (OAuth 2.0 and its API: its web and API addresses are preset)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")  # in the redirect URI: /login/oidc/<name>/callback
    preset: Literal["oidc", "github"] = "oidc"
    # Exactly as the provider's ID tokens say it (no slash added); GitHub: its web address (default https://github.com).
    issuer: str = Field(default="", pattern=r"^(https?://[^\s?#]+)?$")
    api_url: str = Field(default="https://api.github.com", pattern=r"^https?://[^\s?#]+$")  # GitHub's API (GitHub Enterprise: another)
    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    scopes: list[str] | None = None  # default: openid email profile; GitHub: read:user user:email
    label: str | None = None  # the login page's button: "Log in with <label>" (default: the name)

    @model_validator(mode="after")
    def _preset_defaults(self) -> "OidcProvider":
        if self.preset == "github":
            self.issuer = (self.issuer or "https://github.com").rstrip("/")
            self.scopes = self.scopes if self.scopes is not None else ["read:user", "user:email"]
        elif not self.issuer:
            raise ValueError("an OpenID Connect provider needs its issuer")
        else:
            self.scopes = self.scopes if self.scopes is not None else ["openid", "email", "profile"]
        return self


class DatabaseSettings(BaseSettings):
    """The database part alone: enough for migrations, which need no key."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    # Database: SQLite file or PostgreSQL URL. Timeouts bound how long a request waits on a sick database.
    database_url: str = "{% if cookiecutter.database == 'postgresql' %}postgresql+psycopg://postgres@127.0.0.1:5432/{{ cookiecutter.package_name }}{% else %}sqlite:///./app.db{% endif %}"
    # Connections each worker keeps open (no more are ever opened on top: one that closes on return
    # costs a new connection for the next request). Default: the worker's thread limit (40), what it can
    # have in flight at once. PostgreSQL's max_connections must cover workers x instances x (this + 1).
    database_pool_size: int | None = Field(default=None, ge=1)
    database_connect_timeout: int = Field(default=5, ge=2)  # seconds; libpq's minimum is 2
    database_pool_timeout: float = Field(default=5, gt=0)  # seconds to wait for a free pooled connection
    # Seconds a query may take (PostgreSQL): the server cancels slower ones, and a connection kept
    # longer than this by a server that stopped answering is cut off (database.py, HungQueryGuard).
    database_query_timeout: float = Field(default=10, gt=0)


class Settings(DatabaseSettings):
    app_name: str = "{{ cookiecutter.project_name }}"
    # production: registration closed and no /docs unless asked for. The generated .env says development.
    environment: Literal["development", "production"] = "production"

    # PASETO v4 keys as PASERK strings: `k4.local.` for local, `k4.secret.` for public.
    paseto_purpose: Literal["local", "public"] = "{{ cookiecutter.paseto_purpose }}"
    paseto_key: SecretStr
    paseto_public_key: str | None = None  # public purpose: must match paseto_key if given
    paseto_previous_keys: list[SecretStr] = []  # retired keys that still verify (k4.local / k4.public)
    paseto_issuer: str | None = None
    paseto_audience: str | None = None
    access_token_minutes: float = Field(default=15, gt=0)
    # A session (refresh-token family) ends when unused for REFRESH_TOKEN_DAYS, and at the latest
    # SESSION_MAX_DAYS after its login, however often it refreshes.
    refresh_token_days: float = Field(default=14, gt=0)
    session_max_days: float = Field(default=30, gt=0)
    # Live sessions an account may have: a login past it ends the session used longest ago (a script that
    # logs in without ever logging out cannot grow them without bound).
    max_sessions_per_account: int = Field(default=50, ge=1)
    token_leeway_seconds: int = Field(default=0, ge=0)

    # Where tokens are read from: API clients send headers, browsers cookies (with a CSRF header).
    token_location: list[Literal["headers", "cookies"]] = Field(default=["headers", "cookies"], min_length=1)
    # Browser cookies: Secure must stay on everywhere but plain-http development on localhost.
    cookie_secure: bool = True
    cookie_samesite: Literal["lax", "strict"] = "lax"
    # false: cookies end with the browser session; true: they last as long as their tokens ("remember me").
    persistent_cookies: bool = False
    # Seconds during which a just-spent refresh token may be spent again (a retry after a lost response)
    # without being taken for theft. 0 (off) is the safest; see docs/refresh-tokens.md.
    refresh_grace_seconds: float = Field(default=0, ge=0, le=60)

    # Passwords (NIST SP 800-63B: at least 8 characters, no composition rules; a cap bounds hashing cost).
    password_min_length: int = Field(default=8, ge=8, le=64)
    password_max_length: int = Field(default=128, ge=64, le=1024)
    # argon2id cost (RFC 9106's second recommendation). Lower it only for tests.
    password_hash_memory_kib: int = Field(default=65536, ge=8)
    password_hash_time_cost: int = Field(default=3, ge=1)
    password_hash_parallelism: int = Field(default=4, ge=1)
    registration_open: bool = False  # development default: true
    # Hashing bounds (argon2 takes memory and CPU): hashes at once per worker process, and per client
    # address; past either, 429 at once, without hashing. Known devices get as many slots again of their own.
    password_hash_concurrency: int = Field(default_factory=lambda: os.cpu_count() or 2, ge=1)
    password_hash_per_address: int = Field(default=2, ge=1)

    # The accounts behind recent tokens, kept in memory (users/snapshots.py): how many, and for how long at
    # most (every change drops them at once everywhere: this covers changes made directly in SQL). 0: off.
    user_cache_size: int = Field(default=10_000, ge=0)
    user_cache_seconds: float = Field(default=5, ge=0)

    # Guessing limits, counted in the database so every instance sees them (users/throttle.py explains).
    login_free_failures: int = Field(default=5, ge=1)  # one client address guessing one account
    login_address_free_failures: int = Field(default=100, ge=1)  # one client address, any accounts
    login_account_free_failures: int = Field(default=50, ge=1)  # one account, any addresses: slows, never locks
    # A client that logged in before holds a device token that exempts it from the account-wide limit;
    # it may fail this often before it counts as a stranger again (OWASP's device cookies).
    device_token_days: float = Field(default=180, gt=0)
    login_device_free_failures: int = Field(default=10, ge=1)
    login_max_lockout_seconds: int = Field(default=900, ge=1)
    login_failure_window_seconds: int = Field(default=3600, ge=1)
    registration_free_attempts: int = Field(default=5, ge=1)  # registrations per client address and window

    # Revocation: each instance re-reads revoked sessions this often; if it cannot for longer than the
    # staleness bound (the database is down), token checks fail closed with 503.
    revocation_sync_seconds: float = Field(default=1.0, gt=0)
    revocation_max_staleness_seconds: float = Field(default=60, gt=0)

    # The HTTP edge: Host names this app answers to (a leading "*." matches subdomains; "*" any), and
    # the largest request body read (every body here is a small form or JSON object).
    trusted_hosts: list[str] = Field(default=["localhost", "127.0.0.1", "::1"], min_length=1)
    request_max_bytes: int = Field(default=65536, ge=1024)
    docs_enabled: bool = False  # the OpenAPI page at /docs; development default: true

    # Logs: one line per security event; plain text for people, JSON for log collectors.
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # Links in mails (password reset, address verification) start with this, never with the request's
    # Host header, which anyone can set. Required in production.
    public_url: AnyHttpUrl | None = None
    # The k4.local key of purpose tokens (the links' one-time tokens, the device tokens, the second step of a
    # login) and of secrets kept at rest (TOTP secrets), apart from the session tokens' key. A key rotated out
    # stays in PURPOSE_PREVIOUS_KEYS while what it sealed is still stored (each secret is sealed anew when used).
    purpose_key: SecretStr
    purpose_previous_keys: list[SecretStr] = []
    password_reset_minutes: float = Field(default=30, gt=0, le=24 * 60)
    email_verification_hours: float = Field(default=48, gt=0, le=30 * 24)
    # At most one mail of each kind (reset, verification) per account this often; asking again is quietly ignored.
    mail_interval_seconds: int = Field(default=300, ge=1)
    mail_request_free_attempts: int = Field(default=10, ge=1)  # requests for a reset mail per client address and window
    # true: an account logs in only once its address is verified (403 email_unverified until then).
    require_verified_email: bool = False
    # The second step of a login with a second factor (mfa/): how long its mfa_token lives, and how many wrong codes it takes.
    mfa_token_minutes: float = Field(default=5, gt=0, le=60)
    mfa_token_attempts: int = Field(default=5, ge=1, le=20)
    # Passkeys (passkeys/): how long a ceremony's challenge stays good (its options, then the browser's answer).
    # The RP ID and the one origin accepted come from PUBLIC_URL, which must name the site by a host name.
    passkey_challenge_seconds: float = Field(default=300, ge=10, le=600)

    # Other services. Those listed here may ask POST /introspect about a token (HTTP Basic; the secret is
    # kept as its SHA-256: it is random, so no slow hash is needed), as a JSON list; `create-introspection-client` adds one.
    introspection_clients: list[IntrospectionClient] = []
    # Web pages on these origins (`https://app.example.com`: scheme, host and port, nothing else) may call the
    # API with the browser's credentials (CORS). Empty: none. Never "*" or "null": with credentials, that
    # would let any site act as its visitors.
    cors_origins: list[Annotated[str, AfterValidator(_origin)]] = []
    # PostgreSQL: revocations reach every instance at once through LISTEN/NOTIFY, on a connection of its own
    # to this URL (default: the database's; it must reach the server directly: a pooler in transaction mode
    # loses notifications). "off": the periodic read alone (REVOCATION_SYNC_SECONDS), which stays as the safety net.
    revocation_listen_url: str | None = None

    # Mail: console (printed, development), smtp, none (mail routes answer 503), memory (kept: tests).
    mail_backend: Literal["console", "smtp", "none", "memory"] = "console"
    mail_from: str = "{{ cookiecutter.project_name }} <noreply@localhost>"
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["none", "starttls", "tls"] = "starttls"
    smtp_timeout_seconds: float = Field(default=10, gt=0)

    # Security activity (activity/): events are kept this many days after their last time, then purged by the
    # housekeeping. A password login from a client without a device token of the account mails its owner
    # (browser and system, approximate address, time, a link to end the session); false: no such mail.
    security_event_days: float = Field(default=90, gt=0)
    new_device_notices: bool = True
    # Federated login (federation/): OpenID Connect providers, as a JSON list of {name, issuer, client_id,
    # client_secret[, scopes, label]}; each gets a button on the login page. Empty: none. The clock difference
    # allowed with a provider when checking its ID tokens' times (seconds).
    oidc_providers: list[OidcProvider] = []
    oidc_leeway_seconds: int = Field(default=30, ge=0, le=300)
    # Observability (observability/). Prometheus metrics: off unless a port is given; then every worker serves
    # them there (on METRICS_HOST, loopback by default), never on the app's own port.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    # OpenTelemetry traces, exported over OTLP/HTTP to this collector (`http://collector:4318`): OpenTelemetry's own
    # variable, read without the prefix. Unset: no tracing, and nothing of OpenTelemetry is imported.
    otel_exporter_otlp_endpoint: AnyHttpUrl | None = Field(default=None, validation_alias="otel_exporter_otlp_endpoint")

    @model_validator(mode="before")
    @classmethod
    def _development_defaults(cls, values: Any) -> Any:
        if isinstance(values, dict) and values.get("environment") == "development":
            values.setdefault("registration_open", True)
            values.setdefault("docs_enabled", True)
            values.setdefault("public_url", "http://127.0.0.1:8000")
        return values

    @model_validator(mode="after")
    def _check_keys(self) -> "Settings":
        self.key_ring()  # fail at start-up, naming the setting, not at the first login
        try:
            self.purpose_tokens()
        except ValueError as exc:
            raise ValueError(f"{ENV_PREFIX}PURPOSE_KEY / PURPOSE_PREVIOUS_KEYS: {exc}") from None
        return self

    @model_validator(mode="after")
    def _check_production(self) -> "Settings":
        if self.environment == "production" and self.public_url is None:
            raise ValueError(f"{ENV_PREFIX}PUBLIC_URL must be set in production: links in mails start with it")
        if len({provider.name for provider in self.oidc_providers}) != len(self.oidc_providers):
            raise ValueError(f"{ENV_PREFIX}OIDC_PROVIDERS: each provider needs a name of its own")
        if self.environment == "production" and self.mail_backend == "console":
            raise ValueError(f"{ENV_PREFIX}MAIL_BACKEND=console prints mails for development: set smtp (or none) in production")
        return self

    def link(self, path: str, **query: str) -> str:
        """An absolute link to a page of this app, for a mail: from PUBLIC_URL, never from a request."""
        assert self.public_url is not None, "set in development by default, required in production"
        base = str(self.public_url).rstrip("/")
        return f"{base}{path}" + (f"?{urlencode(query)}" if query else "")

    def purpose_tokens(self) -> PurposeTokens:
        previous = [key.get_secret_value() for key in self.purpose_previous_keys]
        return PurposeTokens(self.purpose_key.get_secret_value(), previous)

    def key_ring(self) -> KeyRing:
        key = self.paseto_key.get_secret_value()
        previous = [secret.get_secret_value() for secret in self.paseto_previous_keys]
        try:
            if self.paseto_public_key and public_paserk(key) != self.paseto_public_key:
                raise ValueError("paseto_public_key does not belong to paseto_key")
            return KeyRing.from_paserk(self.paseto_purpose, key, previous)
        except ValueError as exc:
            raise ValueError(f"{ENV_PREFIX}PASETO_KEY / PASETO_PREVIOUS_KEYS: {exc}") from None

    def paseto_config(self) -> PasetoConfig:
        # Browsers keep a `__Host-` cookie only if it is Secure, host-only and for path /: nobody on a
        # sibling subdomain or plain http can plant one. The refresh cookie's path allows `__Secure-`.
        host, secure = ("__Host-", "__Secure-") if self.cookie_secure else ("", "")
        return PasetoConfig(
            keys=self.key_ring(),
            access_token_expires=timedelta(minutes=self.access_token_minutes),
            refresh_token_expires=timedelta(days=self.refresh_token_days),
            leeway=timedelta(seconds=self.token_leeway_seconds),
            issuer=self.paseto_issuer,
            audience=self.paseto_audience,
            token_location=frozenset(self.token_location),
            cookie_secure=self.cookie_secure,
            cookie_samesite=self.cookie_samesite,
            persistent_cookies=self.persistent_cookies,
            access_cookie_name=f"{host}access_token",
            refresh_cookie_name=f"{secure}refresh_token",
            access_csrf_cookie_name=f"{host}csrf_access_token",
            refresh_csrf_cookie_name=f"{host}csrf_refresh_token",
        )
