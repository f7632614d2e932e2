"""The PASETO package on its own: issuing, verifying and every way a token is refused."""

import base64
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pyseto
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from pyseto import KeyInterface

from {{ cookiecutter.package_name }}.paseto import KeyRing, PasetoConfig, generate_key, public_paserk
from {{ cookiecutter.package_name }}.paseto.exceptions import (
    ExpiredTokenError,
    InvalidClaimsError,
    InvalidTokenError,
    NotYetValidError,
    UnknownKeyError,
    UnsupportedTokenError,
)
from {{ cookiecutter.package_name }}.paseto.keys import Purpose
from {{ cookiecutter.package_name }}.paseto.tokens import decode_token, encode_token

from .conftest import PURPOSE


def signing_key(config: PasetoConfig) -> KeyInterface:
    assert config.keys.signing_key is not None, "a ring that signs"
    return config.keys.signing_key


def ring(signing_key: str | None = None, previous: list[str] | None = None) -> KeyRing:
    return KeyRing.from_paserk(PURPOSE, signing_key or generate_key(PURPOSE), previous or [])


def make_config(**options: Any) -> PasetoConfig:
    return PasetoConfig(keys=options.pop("keys", None) or ring(), **options)


def issue(config: PasetoConfig, **options: Any) -> str:
    defaults: dict[str, Any] = {"subject": "alice", "token_type": "access", "expires_in": timedelta(minutes=5)}
    return encode_token(config, **{**defaults, **options})


def raw_key_bytes(paserk: str) -> bytes:
    return base64.urlsafe_b64decode(paserk.split(".")[2] + "==")


def craft(config: PasetoConfig, claims: dict[str, Any], footer: dict[str, Any] | bytes | None = None) -> str:
    """A token made with the app's own signing key but claims (or footer) of the test's choosing."""
    body = {"sub": "alice", "jti": "j", "type": "access", "exp": (datetime.now(UTC) + timedelta(minutes=5)).isoformat(), **claims}
    footer = {"kid": config.keys.signing_kid} if footer is None else footer
    return pyseto.encode(signing_key(config), json.dumps(body).encode(), footer=footer).decode()


def test_round_trip_carries_claims_and_key_id() -> None:
    config = make_config(issuer="https://auth.example", audience="api")
    claims = decode_token(config, issue(config, fresh=True, claims={"role": "admin"}))
    assert claims["sub"] == "alice"
    assert claims["type"] == "access"
    assert claims["fresh"] is True
    assert claims["role"] == "admin"
    assert (claims["iss"], claims["aud"]) == ("https://auth.example", "api")
    assert len(claims["jti"]) == 32
    assert datetime.fromisoformat(claims["exp"]) > datetime.fromisoformat(claims["iat"])


def test_token_is_v4_of_the_configured_purpose_with_kid_footer() -> None:
    config = make_config()
    token = issue(config)
    assert token.startswith(f"v4.{PURPOSE}.")
    footer = json.loads(base64.urlsafe_b64decode(token.split(".")[3] + "=="))
    assert footer == {"kid": config.keys.signing_kid}
    assert footer["kid"].startswith("k4.lid." if PURPOSE == "local" else "k4.pid.")


def test_reserved_claims_cannot_be_overridden() -> None:
    with pytest.raises(ValueError, match="reserved"):
        issue(make_config(), claims={"exp": "2999-01-01T00:00:00+00:00"})


def test_expired_token_is_refused() -> None:
    config = make_config()
    with pytest.raises(ExpiredTokenError):
        decode_token(config, issue(config, expires_in=timedelta(seconds=-1)))


@pytest.mark.parametrize("leeway", [timedelta(seconds=30), 30], ids=["timedelta", "int"])
def test_leeway_accepts_recently_expired_tokens(leeway: timedelta | int) -> None:
    settings = type("Settings", (), {"authpaseto_local_key": generate_key("local"), "authpaseto_decode_leeway": leeway})
    config = PasetoConfig.from_settings(settings())
    assert decode_token(config, issue(config, expires_in=timedelta(seconds=-5)))["sub"] == "alice"
    with pytest.raises(ExpiredTokenError):
        decode_token(config, issue(config, expires_in=timedelta(seconds=-60)))


def test_not_yet_valid_token_is_refused() -> None:
    config = make_config()
    future = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    with pytest.raises(NotYetValidError):
        decode_token(config, craft(config, {"nbf": future}))


def test_tampered_token_is_refused() -> None:
    config = make_config()
    token = issue(config)
    body = token.split(".")[2]
    flipped = body[:10] + ("A" if body[10] != "A" else "B") + body[11:]
    with pytest.raises(InvalidTokenError) as refused:
        decode_token(config, token.replace(body, flipped))
    assert refused.value.code == "invalid_token"


def test_footer_is_authenticated() -> None:
    config = make_config()
    other_kid = ring().signing_kid
    token = issue(config)
    forged_footer = base64.urlsafe_b64encode(json.dumps({"kid": config.keys.signing_kid, "x": other_kid}).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidTokenError):
        decode_token(config, ".".join([*token.split(".")[:3], forged_footer]))


def test_token_from_another_key_is_refused() -> None:
    ours, theirs = make_config(), make_config()
    with pytest.raises(UnknownKeyError):
        decode_token(ours, issue(theirs))


def test_other_key_claiming_our_kid_is_refused() -> None:
    ours, theirs = make_config(), make_config()
    forged = pyseto.encode(signing_key(theirs), b'{"sub": "alice"}', footer={"kid": ours.keys.signing_kid}).decode()
    with pytest.raises(InvalidTokenError) as refused:
        decode_token(ours, forged)
    assert refused.value.code == "invalid_token"


def same_key_other_versions(config: PasetoConfig, signing_paserk: str) -> list[str]:
    """v1-v3 tokens (and the other purpose) made from the very same key bytes, with our kid."""
    claims = json.dumps({"sub": "alice", "jti": "j", "type": "access", "exp": "2999-01-01T00:00:00+00:00"}).encode()
    footer = {"kid": config.keys.signing_kid}
    raw = raw_key_bytes(signing_paserk)
    if PURPOSE == "local":
        keys = [pyseto.Key.new(version, "local", raw) for version in (1, 2, 3)]
        private_pem = Ed25519PrivateKey.from_private_bytes(raw).private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        keys.append(pyseto.Key.new(4, "public", private_pem))
    else:
        private_pem = Ed25519PrivateKey.from_private_bytes(raw[:32]).private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        keys = [pyseto.Key.new(2, "public", private_pem)]
        # The public key's bytes used as a symmetric key: the classic algorithm-confusion attack.
        public = raw_key_bytes(public_paserk(signing_paserk))
        keys += [pyseto.Key.new(version, "local", public) for version in (1, 2, 3, 4)]
    return [pyseto.encode(key, claims, footer=footer).decode() for key in keys]


def test_other_versions_and_purposes_made_with_the_same_key_are_refused() -> None:
    signing = generate_key(PURPOSE)
    config = make_config(keys=ring(signing))
    tokens = same_key_other_versions(config, signing)
    assert len(tokens) >= 4
    for token in tokens:
        with pytest.raises(UnsupportedTokenError):
            decode_token(config, token)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "v4.local.",
        "v4.public.abc",
        "v4.local.abc",
        "v4.local.abc.",
        "v4.local.abc.!!!",
        "v4.local.abc.bm90IGpzb24",  # footer "not json"
        "v4.local.abc.WyJraWQiXQ",  # footer ["kid"]
        "v4.local.abc.eyJraWQiOiAxfQ",  # footer {"kid": 1}
        "v4.local.abc." + base64.urlsafe_b64encode(b"[" * 3000).decode(),  # JSON nested past the recursion limit
        "v4.local.abc." + base64.urlsafe_b64encode(json.dumps({"kid": "k" * 400}).encode()).decode(),
        "v4.public.abc.eyJraWQiOiAiazQucGlkLngifQ",  # unknown kid
        "v4.local.é.x",
        "v4.local." + "A" * 5000,
    ],
)
def test_malformed_tokens_are_refused_with_an_auth_error(token: str) -> None:
    with pytest.raises(InvalidTokenError):
        decode_token(make_config(), token.replace("v4.local", f"v4.{PURPOSE}").replace("v4.public", f"v4.{PURPOSE}"))


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"type": None}, "type"),
        ({"sub": None}, "sub"),
        ({"jti": None}, "jti"),
        ({"exp": None}, "expiry"),
        ({"exp": "tomorrow"}, "ISO 8601"),
        ({"exp": "2999-01-01T00:00:00"}, "time zone"),
        ({"exp": 4102444800}, "ISO 8601"),
    ],
)
def test_tokens_with_missing_or_bad_claims_are_refused(claims: dict[str, Any], message: str) -> None:
    config = make_config()
    with pytest.raises(InvalidClaimsError, match=message):
        decode_token(config, craft(config, claims))


def test_payload_that_is_not_an_object_is_refused() -> None:
    config = make_config()
    for payload in (b"[1, 2]", b"not json", b"\xff\xfe"):
        token = pyseto.encode(signing_key(config), payload, footer={"kid": config.keys.signing_kid}).decode()
        with pytest.raises(InvalidTokenError):
            decode_token(config, token)


def test_token_without_footer_is_refused() -> None:
    config = make_config()
    with pytest.raises(InvalidTokenError, match="footer"):
        decode_token(config, craft(config, {}, footer=b""))


def test_issuer_and_audience_are_checked() -> None:
    config = make_config(issuer="https://auth.example", audience="api")
    other_issuer = make_config(keys=config.keys, issuer="https://evil.example", audience="api")
    with pytest.raises(InvalidClaimsError, match="issuer"):
        decode_token(config, issue(other_issuer))
    with pytest.raises(InvalidClaimsError, match="audience"):
        decode_token(config, issue(config, audience="another-service"))
    with pytest.raises(InvalidClaimsError, match="audience"):
        decode_token(config, craft(config, {"iss": "https://auth.example"}))


def test_rotation_keeps_old_tokens_valid_and_signs_with_the_new_key() -> None:
    old_key, new_key = generate_key(PURPOSE), generate_key(PURPOSE)
    old_verifier = old_key if PURPOSE == "local" else public_paserk(old_key)
    before = make_config(keys=ring(old_key))
    after = make_config(keys=ring(new_key, [old_verifier]))
    old_token = issue(before)
    assert decode_token(after, old_token)["sub"] == "alice"
    new_token = issue(after)
    assert after.keys.signing_kid != before.keys.signing_kid
    with pytest.raises(UnknownKeyError):
        decode_token(before, new_token)
    retired = make_config(keys=ring(new_key))  # the old key dropped after its tokens expired
    with pytest.raises(UnknownKeyError):
        decode_token(retired, old_token)


def test_key_ring_refuses_keys_of_the_wrong_kind() -> None:
    other: Purpose = "public" if PURPOSE == "local" else "local"
    with pytest.raises(ValueError, match="PASERK"):
        KeyRing.from_paserk(PURPOSE, generate_key(other))
    with pytest.raises(ValueError, match="PASERK"):
        KeyRing.from_paserk(PURPOSE, "k4.local.not-base64!")
    with pytest.raises(ValueError, match="PASERK"):
        KeyRing.from_paserk(PURPOSE, generate_key(PURPOSE), ["k2.local.AAAA"])


def test_raw_secret_key_of_the_published_library_still_works_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        config = PasetoConfig.from_settings(type("S", (), {"authpaseto_secret_key": "secret"})())
    assert "32-byte" in caplog.text
    assert decode_token(config, issue(config))["sub"] == "alice"
