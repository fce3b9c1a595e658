"""deliveries.error_code: 64 characters (Tencent's codes such as
FailedOperation.TemplateIncorrectOrUnapproved are longer than 32)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08 02:00:00

On PostgreSQL widening a varchar changes the catalog only (no table rewrite, however
many rows). SQLite cannot alter a column: Alembic's batch mode copies the table (a
database of millions of rows takes a while, once).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column("error_code", type_=sa.String(64),
                              existing_type=sa.String(32), existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column("error_code", type_=sa.String(32),
                              existing_type=sa.String(64), existing_nullable=True)
