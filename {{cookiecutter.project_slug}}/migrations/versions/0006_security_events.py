"""Security events: an account's stored activity (logins, refusals merged per hour, changes, administrators' actions).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "securityevent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("first_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("client_address", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("user_agent", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("merge_key", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "merge_key", name="uq_securityevent_user_id_merge_key"),
    )
    op.create_index("ix_securityevent_user_id_last_at", "securityevent", ["user_id", "last_at"], unique=False)
    op.create_index("ix_securityevent_type_last_at", "securityevent", ["type", "last_at"], unique=False)
    op.create_index("ix_securityevent_last_at", "securityevent", ["last_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_securityevent_last_at", table_name="securityevent")
    op.drop_index("ix_securityevent_type_last_at", table_name="securityevent")
    op.drop_index("ix_securityevent_user_id_last_at", table_name="securityevent")
    op.drop_table("securityevent")
