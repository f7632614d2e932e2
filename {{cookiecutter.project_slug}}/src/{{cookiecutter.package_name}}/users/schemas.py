"""What the users API accepts and returns, and the rules for the text in it."""

import re
import unicodedata
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, EmailStr, Field
from pydantic_core import PydanticCustomError

from .snapshots import Account

# The canonical form of a username: what is stored, compared and put in tokens.
_USERNAME = re.compile(r"[a-z0-9_.-]{3,64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def normalize_username(name: str) -> str:
    """Unicode NFKC, then case-folded: 'Alice', 'ALICE' and a full-width 'Alice' are one name, 'alice'."""
    return unicodedata.normalize("NFKC", name).casefold()


def _text(value: str) -> str:
    # JSON can carry lone surrogates ("\ud800"): no UTF-8 form, so they cannot be hashed or stored.
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise PydanticCustomError("invalid_text", "must be valid Unicode text (no lone surrogates)") from None
    if "\x00" in value:
        raise PydanticCustomError("invalid_text", "must not contain NUL characters")
    return value


def _new_username(value: str) -> str:
    name = normalize_username(value)
    if not _USERNAME.fullmatch(name):
        raise PydanticCustomError(
            "invalid_username",
            "must be 3 to 64 of: letters a-z, digits, '.', '_' or '-' (look-alike and invisible characters are refused)",
        )
    return name


def _login_name(value: str) -> str:
    name = normalize_username(value)
    if not name or len(name) > 64 or _CONTROL.search(name):
        raise PydanticCustomError("invalid_username", "must be 1 to 64 characters without control characters")
    return name


# Every text field passes `_text`; names are normalized before anything compares or stores them.
Text = AfterValidator(_text)
NewUsername = Annotated[str, Field(max_length=256), Text, AfterValidator(_new_username)]
LoginName = Annotated[str, Field(min_length=1, max_length=256), Text, AfterValidator(_login_name)]
# The configured length rules (PASSWORD_MIN_LENGTH / MAX_LENGTH) are checked by the service; these are
# the outer bounds any configuration stays within, so nothing longer is ever hashed.
# The mark lets the OpenAPI document show the configured rules wherever a new password is asked (main.py).
CONFIGURED_PASSWORD_RULES = "x-configured-password-rules"
NewPassword = Annotated[str, Field(min_length=8, max_length=1024, json_schema_extra={CONFIGURED_PASSWORD_RULES: True}), Text]
Password = Annotated[str, Field(min_length=1, max_length=1024), Text]
Email = Annotated[EmailStr, Text, AfterValidator(str.lower)]


class UserCreate(BaseModel):
    username: NewUsername
    email: Email | None = None
    password: NewPassword


class UserPublic(BaseModel):
    id: int
    username: str
    email: str | None
    email_verified: bool
    is_active: bool
    created_at: datetime

    @classmethod
    def of(cls, user: Account) -> "UserPublic":
        """Every field from the account's field of the same name (a field added here needs nothing more)."""
        shown = {name: getattr(user, name) for name in cls.model_fields if name != "email_verified"}
        return cls(**shown, email_verified=user.email_verified_at is not None)
