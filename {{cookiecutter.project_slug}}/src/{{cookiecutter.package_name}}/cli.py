"""Command line: schema, users, keys and housekeeping. `{{ cookiecutter.project_slug }} --help` lists the commands.

Run it in the project folder: it reads `.env` and `alembic.ini` from there, as the server does.
A database that cannot be used is one line naming the setting, never a traceback.
"""

import argparse
import getpass
import hashlib
import json
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from pydantic import SecretStr, TypeAdapter, ValidationError
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from .activity import service as activity
from .activity.events import EventType
from .auth import service as auth_service
from .config import ENV_PREFIX, DatabaseSettings, IntrospectionClient, Settings
from .database import UNAVAILABLE_ERRORS, describe_failure, make_engine, safe_url
from .housekeeping import purge
from .mail import DELIVERY_ERRORS, Mailer, compose
from .mfa import notices
from .mfa import service as mfa_service
from .paseto import generate_key, public_paserk
from .users import service as users_service
from .users.exceptions import UserError
from .users.models import User
from .users.schemas import Email, NewUsername

Command = Callable[[argparse.Namespace], int]


class CommandError(Exception):
    """A failure to report as one line on stderr, with exit status 1."""


@contextmanager
def _session(settings: Settings) -> Iterator[Session]:
    engine = make_engine(settings)
    try:
        with Session(engine, expire_on_commit=False) as session:
            yield session
    except UNAVAILABLE_ERRORS as error:
        raise CommandError(f"{describe_failure(settings.database_url, error)} (did you run `{{ cookiecutter.project_slug }} migrate`?)") from None
    finally:
        engine.dispose()


def _user(session: Session, username: str) -> User:
    user = users_service.get_by_username(session, username)
    if user is None or user.id is None:
        raise CommandError(f"no user {username!r}")
    return user


def _checked(rules: TypeAdapter[Any], value: object, field: str) -> Any:
    """The value as the API would accept it (same rules as /register), or one line saying why not."""
    try:
        return rules.validate_python(value)
    except ValidationError as error:
        raise CommandError(f"{field} {value!r}: {error.errors()[0]['msg']}") from None


def _password(args: argparse.Namespace) -> str:
    if args.random_password:
        return secrets.token_urlsafe(12)
    return args.password if args.password is not None else getpass.getpass("Password: ")


# -- schema ---------------------------------------------------------------------------------------------


def _create_database_if_missing(url: str) -> None:
    """PostgreSQL: create the database the URL names, if the server has no such database yet."""
    target = make_url(url)
    if not target.drivername.startswith("postgresql") or not target.database:
        return
    server = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            exists = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}).first()
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{target.database}"'))
                print(f"created database {target.database!r}")
    finally:
        server.dispose()


def migrate(args: argparse.Namespace) -> int:
    """Bring the database schema up to date (the deploy step; safe to run every time). Needs no key."""
    settings = DatabaseSettings()
    ini = Path("alembic.ini")
    if not ini.is_file():
        raise CommandError("no alembic.ini here: run this command in the project folder")
    config = Config(str(ini))
    config.attributes["database_url"] = settings.database_url
    try:
        _create_database_if_missing(settings.database_url)
        command.upgrade(config, args.revision)
    except UNAVAILABLE_ERRORS as error:
        raise CommandError(describe_failure(settings.database_url, error)) from None
    print(f"database schema at {args.revision}: {safe_url(settings.database_url)}")
    return 0


# -- users -------------------------------------------------------------------------------------------


def create_user(args: argparse.Namespace) -> int:
    settings = Settings()
    username = _checked(TypeAdapter(NewUsername), args.username, "username")
    email = _checked(TypeAdapter(Email | None), args.email, "e-mail")
    with _session(settings) as session:
        if args.exist_ok and users_service.get_by_username(session, username) is not None:
            print(f"user {username!r} exists (`set-password {username} --random-password` gives it a new password)")
            return 0
        password = _password(args)
        # An address the operator typed counts as verified.
        user = users_service.create_user(session, settings, username, password, email, email_verified=True)
        if args.admin:
            users_service.set_admin(session, user, True)
    print(f"created user {user.username!r}" + (f" with password: {password}" if args.random_password else ""))
    return 0


def set_password(args: argparse.Namespace) -> int:
    """An operator's reset: a new password, and every session of the user ends."""
    settings = Settings()
    with _session(settings) as session:
        user = _user(session, args.username)
        password = _password(args)
        users_service.set_password(session, settings, user, password)
        assert user.id is not None
        event = activity.Event(EventType.PASSWORD_RESET, user.username, None, actor=activity.SYSTEM, fields={"via": "cli"})
        ended = auth_service.revoke_user_sessions(session, None, user.id, reason="password_reset", event=event)
    shown = f" to: {password}" if args.random_password else ""
    print(f"password of {user.username!r} set{shown}; {ended} session(s) ended")
    return 0


def set_admin(args: argparse.Namespace) -> int:
    """Make a user an administrator, or (--remove) no longer one: it takes effect at their next request."""
    settings = Settings()
    with _session(settings) as session:
        user = _user(session, args.username)
        users_service.set_admin(session, user, not args.remove)
    print(f"{user.username!r} is {'no longer ' if args.remove else ''}an administrator")
    return 0


def set_active(args: argparse.Namespace) -> int:
    settings = Settings()
    with _session(settings) as session:
        user = _user(session, args.username)
        by_operator: dict[str, Any] = {"actor": activity.SYSTEM, "fields": {"via": "cli"}}
        if args.active:
            activity.write(session, activity.Event(EventType.ADMIN_ACTIVATED_ACCOUNT, user.username, None, **by_operator))
            users_service.set_active(session, user, args.active)
            print(f"activated {user.username!r}")
            return 0
        users_service.set_active(session, user, args.active)
        assert user.id is not None
        # This process serves no requests: running instances learn of the revocation at their next read.
        event = activity.Event(EventType.ADMIN_DEACTIVATED_ACCOUNT, user.username, None, **by_operator)
        auth_service.revoke_user_sessions(session, None, user.id, reason="deactivated", event=event)
    print(f"deactivated {user.username!r}; every session of theirs is refused within a second")
    return 0


def reset_mfa(args: argparse.Namespace) -> int:
    """An operator's help for someone who lost every second factor: they go, and every session of the user ends."""
    settings = Settings()
    with _session(settings) as session:
        user = _user(session, args.username)
        mfa_service.reset_factors(session, user)
        assert user.id is not None
        event = activity.Event(EventType.ADMIN_RESET_MFA, user.username, None, actor=activity.SYSTEM, fields={"via": "cli"})
        ended = auth_service.revoke_user_sessions(session, None, user.id, reason="mfa_reset", event=event)
    mailer = Mailer(settings)
    if mailer.available:  # the owner hears of it, as after an administrator's reset (a failed send is logged)
        notices.send_factor_removed(settings, mailer, user, "reset")
    print(f"every second factor of {user.username!r} removed: the password alone logs in; {ended} session(s) ended")
    return 0


# -- keys ----------------------------------------------------------------------------------------------


def generate_key_command(args: argparse.Namespace) -> int:
    key = generate_key(args.purpose)
    print(f"{ENV_PREFIX}PASETO_KEY={key}")
    if args.purpose == "public":
        print(f"{ENV_PREFIX}PASETO_PUBLIC_KEY={public_paserk(key)}")
    return 0


def rotate_keys(args: argparse.Namespace) -> int:
    """A new key signs from now on; the old one only verifies, so nobody is logged out."""
    env_file = Path(args.env_file)
    settings = Settings(_env_file=env_file)
    old_key = settings.paseto_key.get_secret_value()
    new_key = generate_key(settings.paseto_purpose)
    old_verifier = old_key if settings.paseto_purpose == "local" else public_paserk(old_key)
    previous = [old_verifier, *(key.get_secret_value() for key in settings.paseto_previous_keys)][: args.keep]
    values = {"PASETO_KEY": new_key, "PASETO_PREVIOUS_KEYS": json.dumps(previous)}
    if settings.paseto_purpose == "public":
        values["PASETO_PUBLIC_KEY"] = public_paserk(new_key)
    _write_env(env_file, values)
    print(f"rotated: a new key signs; {len(previous)} previous key(s) still verify")
    print("restart the app; drop a previous key once the refresh lifetime has passed")
    return 0


def _write_env(env_file: Path, values: dict[str, str]) -> None:
    """Set these settings (names without the prefix) in the .env file, keeping every other line."""
    lines = [line for line in env_file.read_text().splitlines() if line.split("=", 1)[0].removeprefix(ENV_PREFIX) not in values]
    lines += [f"{ENV_PREFIX}{name}={value}" for name, value in values.items()]
    env_file.write_text("\n".join(lines) + "\n")


def create_introspection_client(args: argparse.Namespace) -> int:
    """A service that may call POST /introspect: its secret is printed once, only its SHA-256 is kept."""
    env_file = Path(args.env_file)
    settings = Settings(_env_file=env_file)
    client = _checked(TypeAdapter(IntrospectionClient), {"id": args.client_id, "secret_sha256": "0" * 64}, "client id")
    secret = secrets.token_urlsafe(32)
    entry = {"id": client.id, "secret_sha256": hashlib.sha256(secret.encode()).hexdigest()}
    others = [existing.model_dump() for existing in settings.introspection_clients if existing.id != client.id]
    _write_env(env_file, {"INTROSPECTION_CLIENTS": json.dumps([*others, entry])})
    print(f"introspection client {client.id!r} added to {env_file}; restart the app. Its secret (shown once): {secret}")
    return 0


def _shown(name: str, value: object) -> object:
    if isinstance(value, SecretStr) or (isinstance(value, list) and value and isinstance(value[0], SecretStr)):
        return "**********" if value else value
    if name == "database_url" and isinstance(value, str):
        return safe_url(value)
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


def show_settings(args: argparse.Namespace) -> int:
    """Print the settings in effect; keys and the database password are masked."""
    settings = Settings()
    for name in type(settings).model_fields:
        value = _shown(name, getattr(settings, name))
        print(f"{ENV_PREFIX}{name.upper()}={value if isinstance(value, str) else json.dumps(value, default=str)}")
    return 0


def send_test_mail(args: argparse.Namespace) -> int:
    """Send a mail with the mail settings in effect, to see that they work."""
    settings = Settings()
    mailer = Mailer(settings)
    if not mailer.available:
        raise CommandError(f"{ENV_PREFIX}MAIL_BACKEND=none: this app sends no mail")
    try:
        mailer.deliver(compose("test", args.address, app_name=settings.app_name))
    except DELIVERY_ERRORS as error:
        raise CommandError(f"could not send the test mail through {settings.smtp_host}:{settings.smtp_port}: {error}") from None
    print(f"sent a test mail to {args.address} ({settings.mail_backend})")
    return 0


def purge_command(args: argparse.Namespace) -> int:
    """What the app does at start-up and every hour: delete expired sessions, old guessing counts and old security events."""
    settings = Settings()
    engine = make_engine(settings)
    try:
        purged = purge(engine, settings)
    except UNAVAILABLE_ERRORS as error:
        raise CommandError(describe_failure(settings.database_url, error)) from None
    finally:
        engine.dispose()
    print(
        f"purged {purged.sessions} expired session(s), {purged.guessing_counts} old guessing count(s)"
        f" and {purged.security_events} old security event(s)"
    )
    return 0


# -- the parser ------------------------------------------------------------------------------------------


def _password_options(command: argparse.ArgumentParser) -> None:
    given = command.add_mutually_exclusive_group()
    given.add_argument("--password", help="the password (visible in shell history: prefer the prompt)")
    given.add_argument("--random-password", action="store_true", help="generate one and print it")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="{{ cookiecutter.project_slug }}", description="Manage the schema, users, keys and sessions.")
    commands = root.add_subparsers(required=True, metavar="COMMAND")

    def add(name: str, handler: Command, help: str) -> argparse.ArgumentParser:  # noqa: A002
        command = commands.add_parser(name, help=help, description=help)
        command.set_defaults(handler=handler)
        return command

    migrate_command = add("migrate", migrate, "Create or upgrade the database schema (creates a missing PostgreSQL database).")
    migrate_command.add_argument("revision", nargs="?", default="head", help="target revision (default: head)")
    create = add("create-user", create_user, "Create a user (asks for the password unless given); its e-mail counts as verified.")
    create.add_argument("username")
    create.add_argument("--email")
    create.add_argument("--exist-ok", action="store_true", help="succeed without change if the user exists")
    create.add_argument("--admin", action="store_true", help="make the user an administrator")
    _password_options(create)
    reset = add("set-password", set_password, "Set a user's password and end all their sessions.")
    reset.add_argument("username")
    _password_options(reset)
    for name, active, help_text in [
        ("activate-user", True, "Let a deactivated user log in again."),
        ("deactivate-user", False, "Deactivate a user and revoke all their sessions."),
    ]:
        toggle = add(name, set_active, help_text)
        toggle.add_argument("username")
        toggle.set_defaults(active=active)
    mfa_reset = add("reset-mfa", reset_mfa, "Remove every second factor of a user (who lost them) and end all their sessions.")
    mfa_reset.add_argument("username")
    admin = add("set-admin", set_admin, "Make a user an administrator (or, with --remove, no longer one).")
    admin.add_argument("username")
    admin.add_argument("--remove", action="store_true", help="take the role away")
    generate = add("generate-key", generate_key_command, "Print a new PASERK key for .env.")
    generate.add_argument("--purpose", choices=["local", "public"], default="{{ cookiecutter.paseto_purpose }}")
    rotate = add("rotate-keys", rotate_keys, "Generate a new signing key in .env; keep the old one for verifying.")
    rotate.add_argument("--env-file", default=".env")
    rotate.add_argument("--keep", type=int, default=2, help="previous keys to keep (default 2)")
    introspection = add("create-introspection-client", create_introspection_client, "Let a service call POST /introspect.")
    introspection.add_argument("client_id")
    introspection.add_argument("--env-file", default=".env")
    add("show-settings", show_settings, "Print the settings in effect, secrets masked.")
    test_mail = add("send-test-mail", send_test_mail, "Send a mail with the mail settings in effect.")
    test_mail.add_argument("address")
    add("purge", purge_command, "Delete expired sessions and old guessing counts (the app does it hourly).")
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    handler: Command = args.handler
    try:
        return handler(args)
    except (CommandError, UserError) as error:
        print(f"error: {error}", file=sys.stderr)
    except ValidationError as error:  # settings: name the variable, not pydantic's page of text
        for problem in error.errors():
            setting = "_".join(map(str, problem["loc"])).upper()
            print(f"error: {ENV_PREFIX}{setting}: {problem['msg']}" if setting else f"error: {problem['msg']}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
