"""The command line: schema, users, keys, settings; each failure is one line, never a traceback."""

import json
import logging
{%- if cookiecutter.database == "postgresql" %}
import uuid
{%- endif %}
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
{%- if cookiecutter.database == "postgresql" %}
from sqlalchemy.engine import make_url
{%- endif %}
from sqlmodel import Session

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.config import ENV_PREFIX, Settings
from {{ cookiecutter.package_name }}.database import make_engine
from {{ cookiecutter.package_name }}.mfa import totp as totp_module
from {{ cookiecutter.package_name }}.paseto import generate_key
from {{ cookiecutter.package_name }}.paseto.tokens import decode_token, encode_token
from {{ cookiecutter.package_name }}.users import service as users_service

from .conftest import PURPOSE, Clock, bearer{% if cookiecutter.database == "postgresql" %}, drop_database{% endif %}, login, make_settings
from .test_mfa import code_now, enrol, first_step, second_step

PROJECT = Path(__file__).resolve().parents[1]


def write_env(folder: Path, database_url: str, **extra: str) -> Path:
    """A project folder's .env as the post-generation hook writes it, plus alembic.ini beside it."""
    values = {
        "PASETO_PURPOSE": PURPOSE,
        "PASETO_KEY": generate_key(PURPOSE),
        "PURPOSE_KEY": generate_key("local"),
        "PUBLIC_URL": "https://app.example.com",
        "MAIL_BACKEND": "none",
        "DATABASE_URL": database_url,
        **extra,
    }
    env = folder / ".env"
    env.write_text("".join(f"{ENV_PREFIX}{name}={value}\n" for name, value in values.items()))
    (folder / "alembic.ini").write_text((PROJECT / "alembic.ini").read_text().replace("%(here)s/migrations", str(PROJECT / "migrations")))
    return env


@pytest.fixture
def env_file(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A migrated project folder, as the cwd."""
    monkeypatch.chdir(tmp_path)
    env = write_env(tmp_path, database_url)
    assert main(["migrate"]) == 0
    return env


def settings_of(env_file: Path) -> Settings:
    return Settings(_env_file=env_file)


def test_migrate_creates_the_schema_and_is_safe_to_repeat(env_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate"]) == 0
    assert "database schema at head" in capsys.readouterr().out


{% if cookiecutter.database == "postgresql" -%}
def test_migrate_creates_a_missing_database(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    name = f"created_{uuid.uuid4().hex[:12]}"
    write_env(tmp_path, make_url(database_url).set(database=name).render_as_string(hide_password=False))
    try:
        assert main(["migrate"]) == 0
        assert main(["create-user", "first", "--password", "long enough password"]) == 0
    finally:
        drop_database(database_url, name)
{%- else -%}
def test_migrate_creates_the_database_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_env(tmp_path, "sqlite:///./fresh.db")
    assert main(["migrate"]) == 0
    assert (tmp_path / "fresh.db").is_file()
    assert main(["create-user", "first", "--password", "long enough password"]) == 0
{%- endif %}


def test_an_unusable_database_is_one_line_naming_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
{%- if cookiecutter.database == "postgresql" %}
    write_env(tmp_path, "postgresql+psycopg://app:s3cret-pw@127.0.0.1:1/app")  # nothing listens on port 1
{%- else %}
    write_env(tmp_path, f"sqlite:///{tmp_path}/no/such/folder/app.db")
{%- endif %}
    for command in (["migrate"], ["create-user", "bob", "--password", "long enough password"]):
        assert main(command) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"error: cannot use the database {ENV_PREFIX}DATABASE_URL=")
        assert len(err.strip().splitlines()) == 1, err
        assert "Traceback" not in err and "s3cret-pw" not in err


def test_create_user_with_a_random_password_prints_it(env_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["create-user", "Demo", "--random-password"]) == 0
    password = capsys.readouterr().out.strip().rsplit(" ", 1)[1]
    settings = settings_of(env_file)
    with Session(make_engine(settings)) as session:
        assert users_service.check_password(session, settings, "demo", password, "cli-test").username == "demo"
    assert main(["create-user", "demo", "--password", "another password"]) == 1
    assert "taken" in capsys.readouterr().err


def test_create_user_exist_ok_makes_the_serve_command_repeatable(env_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["create-user", "demo", "--random-password", "--exist-ok"]) == 0
    assert "with password" in capsys.readouterr().out
    assert main(["create-user", "demo", "--random-password", "--exist-ok"]) == 0
    assert "exists" in capsys.readouterr().out


def test_create_user_applies_the_password_rules(env_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["create-user", "demo", "--password", "short"]) == 1
    assert "at least 8" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("answer", "message"), [(["Bad Name!"], "username 'Bad Name!': must be 3 to 64"), (["dave", "--email", "dave"], "e-mail 'dave'")]
)
def test_create_user_applies_the_account_name_rules(
    env_file: Path, capsys: pytest.CaptureFixture[str], answer: list[str], message: str
) -> None:
    assert main(["create-user", *answer, "--random-password"]) == 1
    assert message in capsys.readouterr().err


def test_set_password_and_activation_recover_an_account(env_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["create-user", "carol", "--password", "first password"])
    assert main(["deactivate-user", "carol"]) == 0
    assert main(["set-password", "carol", "--random-password"]) == 0
    password = capsys.readouterr().out.split("set to: ")[1].split(";")[0]
    settings = settings_of(env_file)
    with Session(make_engine(settings)) as session:
        user = users_service.get_by_username(session, "carol")
        assert user is not None and not user.is_active
    assert main(["activate-user", "carol"]) == 0
    with Session(make_engine(settings)) as session:
        assert users_service.check_password(session, settings, "carol", password, "cli-test").is_active
    assert main(["set-password", "nobody", "--password", "whatever long"]) == 1
    assert "no user 'nobody'" in capsys.readouterr().err


def test_reset_mfa_removes_every_second_factor_and_ends_every_session(
    client: TestClient,
    tokens: dict[str, str],
    clock: Clock,
    tmp_path: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The command on the database a running app uses: its sessions end there, and the password alone logs in."""
    clock.freeze_monotonic_in(totp_module)  # TOTP codes on the test's clock (tests/test_mfa.py)
    secret, _ = enrol(client, tokens, clock)
    phone = second_step(client, first_step(client)["mfa_token"], code=code_now(secret, clock))
    monkeypatch.chdir(tmp_path)
    write_env(tmp_path, database_url)  # the app made the tables already
    caplog.set_level(logging.INFO, logger="{{ cookiecutter.package_name }}.security")
    assert main(["reset-mfa", "alice"]) == 0
    assert "2 session(s) ended" in capsys.readouterr().out
    security = [record.fields for record in caplog.records if record.name.endswith(".security")]  # type: ignore[attr-defined]
    events = [event for event in security if event["event"] == "admin_reset_mfa"]
    assert [(event["user"], event["via"]) for event in events] == [("alice", "cli")]
    for old in (tokens, phone):
        assert client.post("/refresh", headers=bearer(str(old["refresh_token"]))).json()["code"] == "token_revoked"
    assert "access_token" in login(client)  # the password alone
    assert main(["reset-mfa", "nobody"]) == 1
    assert "no user 'nobody'" in capsys.readouterr().err


def test_administrators_are_made_and_unmade_from_the_command_line(env_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["create-user", "root", "--password", "long enough password", "--email", "root@example.com", "--admin"]) == 0
    assert main(["create-user", "dave", "--password", "long enough password"]) == 0
    assert main(["set-admin", "dave"]) == 0
    assert main(["set-admin", "root", "--remove"]) == 0
    assert "'root' is no longer an administrator" in capsys.readouterr().out
    with Session(make_engine(settings_of(env_file))) as session:
        root, dave = users_service.get_by_username(session, "root"), users_service.get_by_username(session, "dave")
        assert root is not None and dave is not None
        assert (root.is_admin, dave.is_admin) == (False, True)
        assert root.email_verified_at is not None  # an address the operator typed counts as verified


def test_purge_reports_what_it_deleted(env_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["purge"]) == 0
    assert "purged 0 expired session(s), 0 old guessing count(s) and 0 old security event(s)" in capsys.readouterr().out


def test_generate_key_prints_a_usable_env_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate-key", "--purpose", PURPOSE]) == 0
    lines = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    key = lines[f"{ENV_PREFIX}PASETO_KEY"]
    assert key.startswith("k4.local." if PURPOSE == "local" else "k4.secret.")
    make_settings("sqlite://", paseto_key=key, paseto_public_key=lines.get(f"{ENV_PREFIX}PASETO_PUBLIC_KEY"))


def test_rotate_keys_keeps_tokens_of_the_old_key_valid(env_file: Path) -> None:
    before = settings_of(env_file)
    old_token = encode_token(
        before.paseto_config(), subject="alice", token_type="access", expires_in=before.paseto_config().access_token_expires
    )
    assert main(["rotate-keys"]) == 0
    after = settings_of(env_file)
    assert after.paseto_key.get_secret_value() != before.paseto_key.get_secret_value()
    assert len(after.paseto_previous_keys) == 1
    assert decode_token(after.paseto_config(), old_token)["sub"] == "alice"
    main(["rotate-keys"]), main(["rotate-keys"])
    assert len(settings_of(env_file).paseto_previous_keys) == 2  # --keep 2 by default
    assert f"{ENV_PREFIX}DATABASE_URL=" in env_file.read_text()


def test_show_settings_masks_every_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    retired = generate_key(PURPOSE) if PURPOSE == "local" else generate_key("local")
    url = "postgresql+psycopg://app:hunter2-secret@db.example:5432/app?sslmode=require&sslpassword=key-secret&password=other-secret"
    env = write_env(tmp_path, url, PASETO_PREVIOUS_KEYS=json.dumps([retired]), SMTP_PASSWORD="smtp-secret")
    if PURPOSE == "public":  # a public ring only takes k4.public keys
        env.write_text(env.read_text().replace(retired, "k4.public.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
    assert main(["show-settings"]) == 0
    out = capsys.readouterr().out
    settings = settings_of(env)
    assert f"{ENV_PREFIX}PASETO_KEY=**********" in out
    assert f"{ENV_PREFIX}PASETO_PREVIOUS_KEYS=**********" in out
    assert settings.paseto_key.get_secret_value() not in out
    assert retired not in out and "hunter2-secret" not in out and "key-secret" not in out and "other-secret" not in out
    assert f"{ENV_PREFIX}SMTP_PASSWORD=**********" in out and "smtp-secret" not in out
    assert f"{ENV_PREFIX}PURPOSE_KEY=**********" in out and settings.purpose_key.get_secret_value() not in out
    shown = f"{ENV_PREFIX}DATABASE_URL=postgresql+psycopg://app:***@db.example:5432/app?password=xxxxx&sslmode=require&sslpassword=xxxxx"
    assert shown in out


def test_a_bad_setting_is_one_line_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    env = write_env(tmp_path, "sqlite:///./app.db")
    env.write_text(env.read_text() + f"{ENV_PREFIX}ACCESS_TOKEN_MINUTES=soon\n")
    assert main(["show-settings"]) == 1
    assert capsys.readouterr().err.startswith(f"error: {ENV_PREFIX}ACCESS_TOKEN_MINUTES:")


@pytest.mark.parametrize("setting", ["paseto_key", "purpose_key"])
def test_bad_key_setting_names_the_setting(setting: str) -> None:
    with pytest.raises(ValueError, match=setting.upper()):
        make_settings("sqlite://", **{setting: "k4.local.short"})
