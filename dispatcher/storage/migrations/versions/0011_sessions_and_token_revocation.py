"""sessions and token revocation

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_version", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("disabled_by", sa.Text(), nullable=True))
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prefix", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("revoked_by", sa.Text(), nullable=True))


def downgrade() -> None:
    # Without the column a revoked token would work again: delete it instead.
    op.execute("DELETE FROM api_tokens WHERE revoked_at IS NOT NULL")
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+): copying the table, as batch mode does by
    # default, would drop ``users`` under the foreign key of ``api_tokens``.
    with op.batch_alter_table("api_tokens", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("revoked_by")
        batch_op.drop_column("revoked_at")
        batch_op.drop_column("prefix")
    with op.batch_alter_table("users", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("disabled_by")
        batch_op.drop_column("disabled_at")
        batch_op.drop_column("session_version")
