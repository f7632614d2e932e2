"""Remember the refresh token spent last, and when, so a refresh lost in transit can be retried (REFRESH_GRACE_SECONDS).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tokenfamily") as table:
        table.add_column(sa.Column("previous_token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        table.add_column(sa.Column("rotated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tokenfamily") as table:
        table.drop_column("rotated_at")
        table.drop_column("previous_token_hash")
