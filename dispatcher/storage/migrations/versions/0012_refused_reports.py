"""refused venue reports

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "refused_reports",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("venue", sa.Text(), nullable=False),
        sa.Column("delivery_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refused_reports")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_refused_reports_fingerprint")),
    )
    with op.batch_alter_table("refused_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refused_reports_channel_received_at"),
                              ["channel", "received_at"], unique=False)
    with op.batch_alter_table("cinemas", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_version", sa.Integer(), server_default="0",
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("cinemas", schema=None) as batch_op:
        batch_op.drop_column("token_version")
    with op.batch_alter_table("refused_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refused_reports_channel_received_at"))
    op.drop_table("refused_reports")
