"""seen webhook nonces

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 04:00:00
"""

from __future__ import annotations

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled in by the WeChat safe-mode change


def downgrade() -> None:
    pass
