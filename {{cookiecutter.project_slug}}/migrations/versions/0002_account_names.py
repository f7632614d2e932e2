"""Account names in canonical form: usernames NFKC + case-folded, e-mail addresses lower-case.

The unique indexes on `username` and `email` then mean "unique ignoring case and Unicode width":
'Alice', 'ALICE' and a full-width 'Alice' can no longer be three accounts. Stops, changing nothing, if two
existing accounts would collide; rename one of them first.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

users = sa.table("user", sa.column("id", sa.Integer()), sa.column("username", sa.String()), sa.column("email", sa.String()))


def _canonical(username: str) -> str:
    # A copy of the rule in users/schemas.py as it stood for this revision: migrations must not change later.
    return unicodedata.normalize("NFKC", username).casefold()


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(users.c.id, users.c.username, users.c.email)).all()
    renamed = {row.id: (_canonical(row.username), row.email.lower() if row.email else None) for row in rows}
    for column, position in (("username", 0), ("email", 1)):
        seen: dict[str, int] = {}
        for user_id, values in renamed.items():
            value = values[position]
            if value is not None and seen.setdefault(value, user_id) != user_id:
                raise RuntimeError(f"users {seen[value]} and {user_id} would share the {column} {value!r}: rename one first")
    for row in rows:
        if (row.username, row.email) != renamed[row.id]:
            username, email = renamed[row.id]
            connection.execute(sa.update(users).where(users.c.id == row.id).values(username=username, email=email))


def downgrade() -> None:
    pass  # the canonical forms are valid names under the old rules too
