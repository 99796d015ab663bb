"""Agent state the gateway replicas share: failed console logins (the login limits) and the
console event streams that are open (which agents are online).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per failed login and limit key: a SHA-256 of ``user:<name>|ip:<address>``,
    # ``ip:<address>`` or ``user:<name>``, never the name or address. Rows older than the
    # login window are deleted as new failures come in.
    op.create_table(
        "agent_login_failures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("failed_at", sa.Float, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("agent_login_failures_by_key", "agent_login_failures", ["key", "failed_at"])
    op.create_index("agent_login_failures_by_age", "agent_login_failures", ["failed_at"])
    # One row per console event stream, stamped by its replica's heartbeat; a stream stops
    # counting on the other replicas when its stamp is older than the online limit.
    op.create_table(
        "agent_streams",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("username", sa.Text, nullable=False),
        sa.Column("replica", sa.Text, nullable=False),
        sa.Column("seen_at", sa.Float, nullable=False),
    )
    op.create_index("agent_streams_by_age", "agent_streams", ["seen_at"])
