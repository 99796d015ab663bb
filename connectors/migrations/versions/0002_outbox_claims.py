"""Outbox rows claimed by a gateway replica while it delivers them (``FOR UPDATE SKIP
LOCKED`` picks the rows; the claim keeps other replicas off them until it lapses).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as outbox:
        outbox.add_column(sa.Column("claimed_by", sa.Text))
        outbox.add_column(sa.Column("claimed_until", sa.Float))
    op.create_index("outbox_by_conversation", "outbox", ["conversation_id", "id"])
