"""Settings: every knob of the app in one place, read from the environment and `.env` once."""

from datetime import timedelta
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .paseto import KeyRing, PasetoConfig, public_paserk

ENV_PREFIX = "{{ cookiecutter.package_name | upper }}_"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    app_name: str = "{{ cookiecutter.project_name }}"
    database_url: str = "{% if cookiecutter.database == 'postgresql' %}postgresql+psycopg://postgres@127.0.0.1:5432/{{ cookiecutter.package_name }}{% else %}sqlite:///./app.db{% endif %}"

    # PASETO v4 keys as PASERK strings: `k4.local.` for local, `k4.secret.` for public.
    paseto_purpose: Literal["local", "public"] = "{{ cookiecutter.paseto_purpose }}"
    paseto_key: SecretStr
    paseto_public_key: str | None = None  # public purpose: must match paseto_key if given
    paseto_previous_keys: list[str] = []  # retired keys that still verify (k4.local / k4.public)
    paseto_issuer: str | None = None
    paseto_audience: str | None = None
    access_token_minutes: float = Field(default=15, gt=0)
    refresh_token_days: float = Field(default=14, gt=0)
    token_leeway_seconds: int = Field(default=0, ge=0)

    # Where tokens are read from: API clients send headers, browsers cookies (with a CSRF header).
    token_location: list[Literal["headers", "cookies"]] = Field(default=["headers", "cookies"], min_length=1)
    # Browser cookies: Secure must stay on everywhere but plain-http development on localhost.
    cookie_secure: bool = True
    cookie_samesite: Literal["lax", "strict"] = "lax"

    # Passwords (NIST SP 800-63B: at least 8 characters, no composition rules; a cap bounds hashing cost).
    password_min_length: int = Field(default=8, ge=8)
    password_max_length: int = Field(default=128, ge=64, le=1024)
    registration_open: bool = True

    # Login throttling: failures are counted in the database so every instance sees them.
    login_free_failures: int = Field(default=5, ge=1)  # per account, before each attempt must wait
    login_ip_free_failures: int = Field(default=20, ge=1)  # per client address
    login_max_lockout_seconds: int = Field(default=900, ge=1)
    login_failure_window_seconds: int = Field(default=3600, ge=1)

    # How often each instance re-reads the revoked refresh families from the database.
    revocation_sync_seconds: float = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _check_keys(self) -> "Settings":
        self.key_ring()  # fail at start-up, naming the setting, not at the first login
        return self

    def key_ring(self) -> KeyRing:
        key = self.paseto_key.get_secret_value()
        try:
            if self.paseto_public_key and public_paserk(key) != self.paseto_public_key:
                raise ValueError("paseto_public_key does not belong to paseto_key")
            return KeyRing.from_paserk(self.paseto_purpose, key, self.paseto_previous_keys)
        except ValueError as exc:
            raise ValueError(f"{ENV_PREFIX}PASETO_KEY / PASETO_PREVIOUS_KEYS: {exc}") from None

    def paseto_config(self) -> PasetoConfig:
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
        )
