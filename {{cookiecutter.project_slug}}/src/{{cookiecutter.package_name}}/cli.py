"""Command line: users, keys and housekeeping. `{{ cookiecutter.project_slug }} --help` lists the commands."""

import argparse
import getpass
import json
import secrets
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlmodel import Session, SQLModel

from .auth import service as auth_service
from .auth.revocation import RevokedFamilies
from .config import ENV_PREFIX, Settings
from .database import make_engine
from .paseto import generate_key, public_paserk
from .users import service as users_service

Command = Callable[[argparse.Namespace], int]


def _session(settings: Settings) -> Session:
    engine = make_engine(settings.database_url)
    SQLModel.metadata.create_all(engine)
    return Session(engine)


def create_user(args: argparse.Namespace) -> int:
    settings = Settings()
    password = args.password
    if args.random_password:
        password = secrets.token_urlsafe(12)
    elif password is None:
        password = getpass.getpass("Password: ")
    try:
        users_service.check_password_rules(password, settings.password_min_length, settings.password_max_length)
        with _session(settings) as session:
            user = users_service.create_user(session, args.username, password, args.email)
    except users_service.UserError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    print(f"created user {user.username!r}" + (f" with password: {password}" if args.random_password else ""))
    return 0


def deactivate_user(args: argparse.Namespace) -> int:
    settings = Settings()
    with _session(settings) as session:
        user = users_service.get_by_username(session, args.username)
        if user is None or user.id is None:
            print(f"error: no user {args.username!r}", file=sys.stderr)
            return 1
        users_service.set_active(session, user, False)
        # This process serves no requests: running instances learn of the revocation at their next sync.
        revoked = RevokedFamilies(session.get_bind(), settings.revocation_sync_seconds, timedelta(0))  # type: ignore[arg-type]
        auth_service.revoke_user_sessions(session, revoked, user.id, reason="deactivated")
    print(f"deactivated {args.username!r}; every session of theirs is refused within a second")
    return 0


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
    values = {
        "PASETO_KEY": new_key,
        "PASETO_PREVIOUS_KEYS": json.dumps([old_verifier, *settings.paseto_previous_keys][: args.keep]),
    }
    if settings.paseto_purpose == "public":
        values["PASETO_PUBLIC_KEY"] = public_paserk(new_key)
    lines = [line for line in env_file.read_text().splitlines() if line.split("=", 1)[0].removeprefix(ENV_PREFIX) not in values]
    lines += [f"{ENV_PREFIX}{name}={value}" for name, value in values.items()]
    env_file.write_text("\n".join(lines) + "\n")
    print(f"rotated: new key {new_key[:12]}… signs; {len(json.loads(values['PASETO_PREVIOUS_KEYS']))} previous key(s) still verify")
    print("restart the app; drop a previous key once the refresh lifetime has passed")
    return 0


def show_settings(args: argparse.Namespace) -> int:
    # SecretStr fields print as '**********'; nothing secret reaches the terminal.
    for name, value in Settings().model_dump(mode="json").items():
        print(f"{ENV_PREFIX}{name.upper()}={'**********' if name == 'paseto_key' else value}")
    return 0


def purge_tokens(args: argparse.Namespace) -> int:
    settings = Settings()
    with _session(settings) as session:
        purged = auth_service.purge_expired(session, settings.paseto_config().access_token_expires)
    print(f"purged {purged} expired session(s)")
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="{{ cookiecutter.project_slug }}", description="Manage users, keys and sessions.")
    commands = root.add_subparsers(required=True, metavar="COMMAND")

    def add(name: str, handler: Command, help: str) -> argparse.ArgumentParser:  # noqa: A002
        command = commands.add_parser(name, help=help, description=help)
        command.set_defaults(handler=handler)
        return command

    create = add("create-user", create_user, "Create a user (asks for the password unless given).")
    create.add_argument("username")
    create.add_argument("--email")
    given = create.add_mutually_exclusive_group()
    given.add_argument("--password", help="the password (visible in shell history: prefer the prompt)")
    given.add_argument("--random-password", action="store_true", help="generate one and print it")
    add("deactivate-user", deactivate_user, "Deactivate a user and revoke all their sessions.").add_argument("username")
    generate = add("generate-key", generate_key_command, "Print a new PASERK key for .env.")
    generate.add_argument("--purpose", choices=["local", "public"], default="{{ cookiecutter.paseto_purpose }}")
    rotate = add("rotate-keys", rotate_keys, "Generate a new signing key in .env; keep the old one for verifying.")
    rotate.add_argument("--env-file", default=".env")
    rotate.add_argument("--keep", type=int, default=2, help="previous keys to keep (default 2)")
    add("show-settings", show_settings, "Print the settings in effect, secrets masked.")
    add("purge-tokens", purge_tokens, "Delete sessions whose refresh tokens have all expired.")
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    handler: Command = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
