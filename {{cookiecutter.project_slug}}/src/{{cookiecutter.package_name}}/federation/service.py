"""Federated login: a provider proves who the person is, once; our own session takes over from there.

The login's state travels with the browser that started it: `state`, `nonce`, the PKCE verifier and what
the login is for (a login, or connecting an identity to the signed-in account) are sealed in a purpose
token (paseto/purpose.py: encrypted, bound to its purpose, short-lived) kept in an HttpOnly cookie. The
callback must come to that browser, with that `state`, within its lifetime, and only once: its token's id
is claimed in the database (users/throttle.py `claim`), so a replayed callback is refused on every instance.

Accounts are linked by identity, (provider, `sub`), never by e-mail address: an unknown identity may make a
new account (registration open, a username of the person's choice), and an address that an account here
already has is refused, not joined. Connecting an identity is done by the account's owner, signed in.
"""

import hmac
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx2
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from ..activity import service as activity
from ..activity.events import EventType
from ..auth import service as auth_service
from ..config import OidcProvider, Settings
from ..database import utcnow
from ..logs import security_event
from ..mfa import service as mfa_service
from ..mfa.exceptions import MfaRequiredError
from ..middleware import PAGE_POLICY
from ..observability import metrics
from ..paseto import AuthPASETO, AuthPASETOException
from ..passkeys import service as passkeys_service
from ..users import service as users_service
from ..users import throttle
from ..users.exceptions import UserError
from ..users.models import User
from ..users.snapshots import Account
from .client import TIMEOUT, ProvenIdentity, ProviderClient
from .exceptions import FederationError, bad_callback
from .github import GitHubClient
from .models import Identity

LOGIN = "oidc-login"  # the purpose of the login cookie's token
SIGN_UP = "oidc-sign-up"  # the purpose of the sign-up page's token
LOGIN_MINUTES = 10  # a login (the provider's pages included) must come back within this
NO_PASSWORD = "!"  # the hash of an account made by a provider's login: no password matches it (passlib refuses it)
_PROVIDER_ERROR = re.compile(r"^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}$")  # RFC 6749's error code characters


class Federation:
    """The configured providers, each with its cached discovery document and keys, and one HTTP client for all."""

    def __init__(self, settings: Settings, transport: httpx2.BaseTransport | None = None) -> None:
        self.providers: dict[str, ProviderClient] = {}
        self.http: httpx2.Client | None = None  # only with providers: a client reads the CA bundle when made
        if not settings.oidc_providers:
            return
        http = self.http = httpx2.Client(timeout=TIMEOUT, follow_redirects=False, transport=transport)
        for provider in settings.oidc_providers:
            kind = GitHubClient if provider.preset == "github" else ProviderClient
            redirect_uri = settings.link(f"/login/oidc/{provider.name}/callback")
            self.providers[provider.name] = kind(provider, redirect_uri, http, settings.oidc_leeway_seconds)

    def get(self, name: str) -> ProviderClient:
        provider = self.providers.get(name)
        if provider is None:
            raise FederationError(404, "unknown_provider", "No such provider is configured here")
        return provider

    def close(self) -> None:
        if self.http is not None:
            self.http.close()

    def page_policy(self) -> str:
        """The pages' Content-Security-Policy, with the providers' origins among the places a form may lead:
        a provider's button posts here and is redirected there, and `form-action` governs the redirects too.
        The issuer's origin, and the authorization endpoint's once its discovery document has been read."""
        origins: set[str] = set()
        for provider in self.providers.values():
            origins.add(_origin(provider.issuer))
            if provider.cached_metadata is not None:
                origins.add(_origin(str(provider.cached_metadata.get("authorization_endpoint", provider.issuer))))
        return PAGE_POLICY.replace("form-action 'self'", " ".join(["form-action 'self'", *sorted(origins)]))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def label(provider: OidcProvider) -> str:
    return provider.label or provider.name


# -- the start: to the provider, with the login's state sealed in a cookie ------------------------------------


def start(settings: Settings, provider: ProviderClient, *, connect_user: User | None = None) -> tuple[str, str]:
    """The provider's authorization URL, and the login cookie's value (a sealed purpose token)."""
    request = provider.authorization_request()
    claims: dict[str, Any] = {"p": provider.name, "state": request.state, "nonce": request.nonce, "cv": request.code_verifier}
    if connect_user is not None:  # bound to the account as it is now: a password change or reset since kills it
        claims["connect"], claims["stamp"] = str(connect_user.id), connect_user.security_stamp
    return request.url, settings.purpose_tokens().issue(LOGIN, claims, timedelta(minutes=LOGIN_MINUTES))


@dataclass(frozen=True)
class Callback:
    """What the provider sent the browser back with (the query of our redirect URI)."""

    state: str | None = None
    code: str | None = None
    iss: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Proven:
    """A callback that checked out: who the provider says it is, and what the login was for."""

    identity: ProvenIdentity
    connect_user_id: int | None
    connect_stamp: str | None = None


def finish(session: Session, settings: Settings, provider: ProviderClient, cookie: str | None, callback: Callback, client: str) -> Proven:
    """Check the callback against the login cookie (state, issuer, single use), then the provider's answer."""
    try:
        login = settings.purpose_tokens().read(LOGIN, cookie or "")
    except AuthPASETOException:
        raise _refused(
            bad_callback("login_not_started", "This login was not started in this browser, or took too long: please start again"),
            provider,
            client,
        ) from None
    if login.get("p") != provider.name:
        raise _refused(bad_callback("wrong_provider", "This answer is from another provider than the login started with"), provider, client)
    if not callback.state or not hmac.compare_digest(callback.state.encode(), str(login.get("state", "")).encode()):
        raise _refused(bad_callback("state_mismatch", "This answer does not belong to the login this browser started"), provider, client)
    # RFC 9207: the issuer says who answered, so an answer from another provider (a mix-up) cannot pass as this one's.
    announced = provider.metadata().get("authorization_response_iss_parameter_supported") is True
    if (callback.iss is not None or announced) and callback.iss != provider.issuer:
        raise _refused(
            bad_callback("issuer_mismatch", "This answer names another issuer than the provider the login went to"), provider, client
        )
    if not throttle.claim(session, f"oidc-login:{login['jti']}", LOGIN_MINUTES * 60 + 60):
        session.commit()
        raise _refused(bad_callback("login_replayed", "This login's answer was used already: please start again"), provider, client)
    session.commit()
    if callback.error is not None:
        if callback.error == "access_denied":
            raise _refused(
                FederationError(403, "access_denied", f"{label(provider.config)} did not let you in (access was denied)"), provider, client
            )
        shown = callback.error if _PROVIDER_ERROR.match(callback.error) else "unknown"
        raise _refused(
            FederationError(400, "provider_error", f"{label(provider.config)} answered with an error: {shown}"), provider, client
        )
    if not callback.code:
        raise _refused(bad_callback("missing_code", "The provider's answer has no code"), provider, client)
    try:
        identity = provider.prove(callback.code, str(login["cv"]), str(login["nonce"]))
    except FederationError as refused:
        raise _refused(refused, provider, client) from None
    connect = login.get("connect")
    return Proven(identity, int(connect) if isinstance(connect, str) and connect.isdigit() else None, login.get("stamp"))


def _refused(error: FederationError, provider: ProviderClient, client: str) -> FederationError:
    security_event("federated_login_refused", warning=True, provider=provider.name, code=error.code, client=client)
    return error


# -- logging in with a known identity -------------------------------------------------------------------------


def proof(identity: ProvenIdentity) -> tuple[list[str], datetime]:
    """The session's `amr` and `auth_time`: "fed" (a federated assertion, as Microsoft's identity platform
    names it), at the time the provider authenticated. Not the provider's own `amr` values: they are its word
    about a login this app did not see, and a service that requires `mfa` of our tokens must get only factors
    this app checked (an account's own second factor adds `otp`/`hwk` and `mfa`)."""
    amr = ["fed"]
    auth_time = datetime.fromtimestamp(identity.auth_time, UTC) if identity.auth_time else utcnow()
    return amr, min(auth_time, utcnow())


def find_identity(session: Session, provider: str, subject: str) -> Identity | None:
    return session.exec(select(Identity).where(Identity.provider == provider, Identity.subject == subject)).first()


def log_in(
    session: Session, settings: Settings, auth: AuthPASETO, identity: ProvenIdentity, client: str, *, user_agent: str = ""
) -> auth_service.IssuedTokens:
    """Our session for a known identity's account; MfaRequiredError for one with a second factor (the provider's
    login is the first step); FederationError with `no_account` when no account is linked to the identity."""
    with metrics.outcomes("login"):
        linked = find_identity(session, identity.provider, identity.subject)
        user = session.get(User, linked.user_id) if linked is not None else None
        if linked is None or user is None:
            raise FederationError(404, "no_account", "No account here is connected to that identity")
        if not user.is_active:
            raise FederationError(403, "account_inactive", "This account is not active")
        if settings.require_verified_email and user.email_verified_at is None:
            raise FederationError(403, "email_unverified", "Verify your e-mail address first: the link is in the mail we sent")
        linked.last_login_at, linked.email = utcnow(), identity.email
        session.add(linked)
        session.commit()
        amr, auth_time = proof(identity)
        if user.mfa_enabled:
            activity.record(session, EventType.MFA_REQUESTED, user.username, client, user_agent=user_agent, provider=identity.provider)
            session.commit()
            raise MfaRequiredError(
                mfa_service.issue_mfa_token(settings, user, amr=amr, auth_time=auth_time), mfa_service.methods(session, user)
            )
        tokens = auth_service.start_session(session, settings, auth, user, client, user_agent, amr=amr, auth_time=auth_time)
        security_event("federated_login", user=user.username, provider=identity.provider, client=client)
    return replace(tokens, device_token=users_service.issue_device_token(settings, user))


# -- an unknown identity: a new account, only when registration is open and the address is nobody's ----------


def refuse_unknown(session: Session, settings: Settings, provider: OidcProvider, identity: ProvenIdentity) -> None:
    """Why an unknown identity may not make an account, if it may not: registration closed, or its address
    belongs to an account here (never joined by address: its owner connects the identity, signed in)."""
    name = label(provider)
    if not settings.registration_open:
        raise FederationError(
            403,
            "registration_closed",
            f"No account here is connected to this {name} account, and sign-up is closed. "
            f"If you have an account, log in to it and connect {name} from your dashboard.",
        )
    if identity.email is not None and users_service.get_by_email(session, identity.email) is not None:
        raise FederationError(
            409,
            "email_in_use",
            f"An account here already uses the address {identity.email}. Log in to that account and connect {name} from there.",
        )


def sign_up_token(settings: Settings, identity: ProvenIdentity) -> str:
    """The sign-up page's token: what the provider proved, sealed, for the form that picks the username."""
    claims = {
        "p": identity.provider,
        "sub_": identity.subject,
        "email": identity.email,
        "ev": identity.email_verified,
        "at": identity.auth_time,
    }
    return settings.purpose_tokens().issue(SIGN_UP, claims, timedelta(minutes=LOGIN_MINUTES))


def read_sign_up_token(settings: Settings, token: str) -> ProvenIdentity:
    try:
        claims = settings.purpose_tokens().read(SIGN_UP, token)
    except AuthPASETOException:
        raise FederationError(400, "sign_up_expired", "This sign-up page has expired: please log in with the provider again") from None
    return ProvenIdentity(
        provider=str(claims["p"]),
        subject=str(claims["sub_"]),
        email=claims.get("email"),
        email_verified=claims.get("ev") is True,
        name=None,
        auth_time=claims.get("at"),
    )


def sign_up(
    session: Session, settings: Settings, provider: OidcProvider, token: str, username: str, client: str
) -> tuple[User, ProvenIdentity]:
    """A new account for an unknown identity, under the username the person picked; it has no password (it
    logs in with the provider; a password can be set later through the reset link)."""
    identity = read_sign_up_token(settings, token)
    if identity.provider != provider.name:
        raise FederationError(400, "sign_up_expired", "This sign-up page is for another provider")
    if find_identity(session, identity.provider, identity.subject) is not None:
        raise FederationError(409, "identity_in_use", "That identity is connected to an account already: log in with it")
    refuse_unknown(session, settings, provider, identity)
    throttle.reserve(session, throttle.registration_limits(settings, client), settings.login_failure_window_seconds)
    session.commit()
    verified_at = utcnow() if identity.email and identity.email_verified else None
    user = User(username=username, email=identity.email, email_verified_at=verified_at, hashed_password=NO_PASSWORD)
    session.add(user)
    try:
        session.flush()
        assert user.id is not None
        session.add(
            Identity(user_id=user.id, provider=identity.provider, subject=identity.subject, email=identity.email, last_login_at=utcnow())
        )
        activity.record(session, EventType.USER_REGISTERED, user.username, client, provider=identity.provider)
        session.commit()
    except IntegrityError:  # the unique constraints decide, so concurrent sign-ups cannot both win
        session.rollback()
        if users_service.get_by_username(session, username) is not None:
            raise UserError(409, "username_taken", "That username is taken") from None
        if find_identity(session, identity.provider, identity.subject) is not None:
            raise FederationError(409, "identity_in_use", "That identity is connected to an account already: log in with it") from None
        raise FederationError(
            409, "email_in_use", "An account here already uses that address. Log in to it and connect from there."
        ) from None
    return user, identity


# -- the owner connects and disconnects identities --------------------------------------------------------------


def identities(session: Session, user_id: int) -> list[Identity]:
    return list(session.exec(select(Identity).where(Identity.user_id == user_id).order_by(col(Identity.created_at), col(Identity.id))))


def connect(session: Session, proven: Proven, client: str) -> Identity:
    """Link an identity to the signed-in account that started the connection, if it is still as it was then;
    409 if another account has the identity."""
    user = session.get(User, proven.connect_user_id)
    if user is None or not user.is_active or user.security_stamp != proven.connect_stamp:
        raise FederationError(403, "account_changed", "Your account changed since you started connecting: please start again")
    assert user.id is not None
    identity = proven.identity
    linked = find_identity(session, identity.provider, identity.subject)
    if linked is not None:
        if linked.user_id == user.id:
            return linked
        raise FederationError(409, "identity_in_use", "That identity is connected to another account here")
    row = Identity(user_id=user.id, provider=identity.provider, subject=identity.subject, email=identity.email)
    session.add(row)
    activity.record(session, EventType.IDENTITY_CONNECTED, user.username, client, provider=identity.provider)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise FederationError(409, "identity_in_use", "That identity is connected to another account here") from None
    return row


def has_password(session: Session, user: Account) -> bool:
    hashed = session.exec(select(User.hashed_password).where(User.id == user.id)).first()
    return hashed is not None and not hashed.startswith(NO_PASSWORD)


def disconnect(session: Session, user: Account, identity_id: int, client: str) -> None:
    """Unlink one of the account's identities; never the last way to log in (no other identity, no password, no passkey)."""
    assert user.id is not None
    row = session.get(Identity, identity_id)
    if row is None or row.user_id != user.id:
        raise UserError(404, "not_found", "No such identity on this account")
    others = session.exec(select(func.count()).select_from(Identity).where(Identity.user_id == user.id, Identity.id != identity_id)).one()
    if not others and not has_password(session, user) and not passkeys_service.passkeys_of(session, user):
        raise UserError(
            409,
            "last_login_method",
            "That is the only way to log in to this account: set a password first (the reset link of 'Forgot your password?')",
        )
    session.delete(row)
    activity.record(session, EventType.IDENTITY_DISCONNECTED, user.username, client, provider=row.provider)
    session.commit()
