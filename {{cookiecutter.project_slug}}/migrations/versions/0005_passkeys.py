"""Passkeys: each account's WebAuthn credentials, and the challenges of ceremonies under way.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "passkey",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sqlmodel.sql.sqltypes.AutoString(length=1400), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("user_handle", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("transports", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("backup_eligible", sa.Boolean(), nullable=False),
        sa.Column("backed_up", sa.Boolean(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_used_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("credential_id"),
    )
    op.create_index(op.f("ix_passkey_user_id"), "passkey", ["user_id"], unique=False)
    op.create_table(
        "passkeychallenge",
        sa.Column("challenge_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("ceremony", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("user_handle", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("client_group", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("challenge_sha256"),
    )
    op.create_index(op.f("ix_passkeychallenge_client_group"), "passkeychallenge", ["client_group"], unique=False)
    op.create_index(op.f("ix_passkeychallenge_expires_at"), "passkeychallenge", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_passkeychallenge_expires_at"), table_name="passkeychallenge")
    op.drop_index(op.f("ix_passkeychallenge_client_group"), table_name="passkeychallenge")
    op.drop_table("passkeychallenge")
    op.drop_index(op.f("ix_passkey_user_id"), table_name="passkey")
    op.drop_table("passkey")
