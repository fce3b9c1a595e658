"""review stages: who passed which stage of a campaign version

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_approvals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=64), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("approved_by", sa.Text(), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"],
                                name=op.f("fk_review_approvals_campaign_id_campaigns")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_approvals")),
        sa.UniqueConstraint("campaign_id", "version", "stage",
                            name=op.f("uq_review_approvals_campaign_id_version_stage")),
        sa.UniqueConstraint("campaign_id", "version", "approved_by",
                            name=op.f("uq_review_approvals_campaign_id_version_approved_by")),
    )


def downgrade() -> None:
    op.drop_table("review_approvals")
