"""Creating users and checking their passwords."""

from sqlmodel import Session, select

from ..database import utcnow
from .models import User
from .passwords import hash_password, verify_password


class UserError(ValueError):
    """A request about users that cannot be done: `code` says why."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message


def check_password_rules(password: str, min_length: int, max_length: int) -> None:
    # Length only, as NIST SP 800-63B asks: composition rules make passwords weaker, not stronger.
    if len(password) < min_length:
        raise UserError(422, "password_too_short", f"Password must be at least {min_length} characters")
    if len(password) > max_length:
        raise UserError(422, "password_too_long", f"Password must be at most {max_length} characters")


def get_by_username(session: Session, username: str) -> User | None:
    return session.exec(select(User).where(User.username == username)).first()


def create_user(session: Session, username: str, password: str, email: str | None = None) -> User:
    if get_by_username(session, username) is not None:
        raise UserError(409, "username_taken", "That username is taken")
    if email is not None and session.exec(select(User).where(User.email == email)).first() is not None:
        raise UserError(409, "email_taken", "That e-mail address is taken")
    user = User(username=username, email=email, hashed_password=hash_password(password))
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this password, or None; upgrades an outdated hash on the way."""
    user = get_by_username(session, username)
    matches, new_hash = verify_password(password, user.hashed_password if user else None)
    if user is None or not matches or not user.is_active:
        return None
    if new_hash is not None:
        user.hashed_password = new_hash
        session.add(user)
        session.commit()
    return user


def set_password(session: Session, user: User, password: str) -> None:
    user.hashed_password = hash_password(password)
    user.updated_at = utcnow()
    session.add(user)
    session.commit()


def set_active(session: Session, user: User, active: bool) -> None:
    user.is_active = active
    user.updated_at = utcnow()
    session.add(user)
    session.commit()
