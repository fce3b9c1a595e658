"""seen webhook nonces

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "seen_nonces",
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "nonce", name=op.f("pk_seen_nonces")),
    )
    with op.batch_alter_table("seen_nonces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_seen_nonces_seen_at"), ["seen_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("seen_nonces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_seen_nonces_seen_at"))
    op.drop_table("seen_nonces")
