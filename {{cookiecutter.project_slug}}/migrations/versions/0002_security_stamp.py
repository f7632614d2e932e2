"""Accounts get a security stamp: one-time links and device tokens die with any change to the account's security state.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user") as batch:
        batch.add_column(sa.Column("security_stamp", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
    # Each existing account gets a random stamp of its own, from the database's own strong random source.
    random_hex = "replace(gen_random_uuid()::text, '-', '')" if op.get_bind().dialect.name == "postgresql" else "lower(hex(randomblob(16)))"
    op.execute(f'UPDATE "user" SET security_stamp = {random_hex}')  # noqa: S608 - no input in it
    with op.batch_alter_table("user") as batch:
        batch.alter_column("security_stamp", existing_type=sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("user") as batch:
        batch.drop_column("security_stamp")
