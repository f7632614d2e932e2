"""The command line: users, keys, settings."""

import json
from pathlib import Path

import pytest
from sqlmodel import Session

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.config import ENV_PREFIX, Settings
from {{ cookiecutter.package_name }}.database import make_engine
from {{ cookiecutter.package_name }}.paseto import generate_key
from {{ cookiecutter.package_name }}.paseto.tokens import decode_token, encode_token
from {{ cookiecutter.package_name }}.users import service as users_service

from .conftest import PURPOSE


@pytest.fixture
def env_file(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder with a .env, as the post-generation hook writes it."""
    monkeypatch.chdir(tmp_path)
    env = tmp_path / ".env"
    env.write_text(
        f"{ENV_PREFIX}PASETO_PURPOSE={PURPOSE}\n{ENV_PREFIX}PASETO_KEY={generate_key(PURPOSE)}\n{ENV_PREFIX}DATABASE_URL={database_url}\n"
    )
    return env


def test_create_user_with_a_random_password_prints_it(env_file: Path, database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["create-user", "demo", "--random-password"]) == 0
    password = capsys.readouterr().out.strip().rsplit(" ", 1)[1]
    with Session(make_engine(database_url)) as session:
        assert users_service.authenticate(session, "demo", password) is not None
    assert main(["create-user", "demo", "--password", "another password"]) == 1
    assert "taken" in capsys.readouterr().err


def test_create_user_applies_the_password_rules(env_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["create-user", "demo", "--password", "short"]) == 1
    assert "at least 8" in capsys.readouterr().err


def test_generate_key_prints_a_usable_env_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate-key", "--purpose", PURPOSE]) == 0
    lines = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    key = lines[f"{ENV_PREFIX}PASETO_KEY"]
    assert key.startswith("k4.local." if PURPOSE == "local" else "k4.secret.")
    Settings(_env_file=None, paseto_purpose=PURPOSE, paseto_key=key, paseto_public_key=lines.get(f"{ENV_PREFIX}PASETO_PUBLIC_KEY"))


def test_rotate_keys_keeps_tokens_of_the_old_key_valid(env_file: Path) -> None:
    before = Settings(_env_file=env_file)
    old_token = encode_token(
        before.paseto_config(), subject="alice", token_type="access", expires_in=before.paseto_config().access_token_expires
    )
    assert main(["rotate-keys"]) == 0
    after = Settings(_env_file=env_file)
    assert after.paseto_key.get_secret_value() != before.paseto_key.get_secret_value()
    assert len(after.paseto_previous_keys) == 1
    assert decode_token(after.paseto_config(), old_token)["sub"] == "alice"
    main(["rotate-keys"]), main(["rotate-keys"])
    assert len(Settings(_env_file=env_file).paseto_previous_keys) == 2  # --keep 2 by default
    assert f"{ENV_PREFIX}DATABASE_URL=" in env_file.read_text()


def test_show_settings_masks_the_key(env_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show-settings"]) == 0
    out = capsys.readouterr().out
    assert f"{ENV_PREFIX}PASETO_KEY=**********" in out
    assert Settings(_env_file=env_file).paseto_key.get_secret_value() not in out
    assert json.dumps([]) in out or "[]" in out


def test_bad_key_setting_names_the_setting() -> None:
    with pytest.raises(ValueError, match="PASETO_KEY"):
        Settings(_env_file=None, paseto_purpose=PURPOSE, paseto_key="k4.local.short")
