"""The gateway's state as the first releases made it: transcripts, platform event ids, button
payloads, web sessions, handoffs, the outbox, CSAT, reply addresses, agents, canned replies,
Slack handoff threads.

A SQLite file made before migrations existed already has these tables: they are kept
(``if_not_exists``), and a transcript from the very first release gets its wider role check.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ROLES = "role IN ('user', 'bot', 'agent', 'system')"


def upgrade() -> None:
    _widen_legacy_transcript()
    table = _table
    table(
        "transcript",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.Text, nullable=False),
        sa.Column("role", sa.Text, sa.CheckConstraint(_ROLES), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    _index("transcript_by_conversation", "transcript", ["conversation_id", "id"])
    table(
        "processed_events",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("received_at", sa.Float, nullable=False),
    )
    table(
        "button_payloads",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    # A web conversation's token generation: tokens of an older one no longer open it.
    table(
        "web_sessions",
        sa.Column("conversation_key", sa.Text, primary_key=True),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("verified", sa.Text),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    # A conversation has at most one open handoff (the partial unique index).
    table(
        "handoffs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.Text, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("queue", sa.Text, nullable=False),
        sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
        sa.Column(
            "status",
            sa.Text,
            sa.CheckConstraint("status IN ('waiting', 'assigned', 'resolved')"),
            nullable=False,
        ),
        sa.Column("trigger_rule", sa.Text, nullable=False),
        sa.Column("trigger_score", sa.Float),
        sa.Column("trigger_detail", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("slots", sa.Text, nullable=False),
        sa.Column("agent", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("assigned_at", sa.Float),
        sa.Column("resolved_at", sa.Float),
        sa.Column("resolved_by", sa.Text),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("available", sa.Integer, nullable=False, server_default="1"),
        sa.Column("acknowledged", sa.Integer, nullable=False, server_default="0"),
    )
    open_only = sa.text("status != 'resolved'")
    _index(
        "one_open_handoff_per_conversation",
        "handoffs",
        ["conversation_id"],
        unique=True,
        sqlite_where=open_only,
        postgresql_where=open_only,
    )
    _index("handoffs_by_status", "handoffs", ["status", sa.text("priority DESC"), "created_at"])
    table(
        "conversation_owner",
        sa.Column("conversation_id", sa.Text, primary_key=True),
        sa.Column(
            "owner", sa.Text, sa.CheckConstraint("owner IN ('bot', 'human')"), nullable=False
        ),
        sa.Column("handoff_id", sa.Integer, sa.ForeignKey("handoffs.id")),
        sa.Column("csat_handoff_id", sa.Integer, sa.ForeignKey("handoffs.id")),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    # User messages that arrived while a handoff was open, until an agent has seen them.
    table(
        "handoff_inbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("handoff_id", sa.Integer, sa.ForeignKey("handoffs.id"), nullable=False),
        sa.Column(
            "transcript_id",
            sa.Integer,
            # Retention removes old transcripts; their inbox entries go with them.
            sa.ForeignKey("transcript.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("seen_at", sa.Float),
    )
    _index("inbox_by_handoff", "handoff_inbox", ["handoff_id", "id"])
    # Messages for the user (agent replies, notices) until their channel has taken them.
    table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.Text, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("delivered_at", sa.Float),
    )
    _index("outbox_pending", "outbox", ["delivered_at", "next_attempt_at"])
    table(
        "csat",
        sa.Column("handoff_id", sa.Integer, sa.ForeignKey("handoffs.id"), primary_key=True),
        sa.Column("conversation_id", sa.Text, nullable=False),
        sa.Column("agent", sa.Text),
        sa.Column("score", sa.Integer, sa.CheckConstraint("score BETWEEN 1 AND 5"), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    table(
        "reply_address",
        sa.Column("conversation_id", sa.Text, primary_key=True),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    table(
        "agents",
        sa.Column("username", sa.Text, primary_key=True),
        sa.Column("display_name", sa.Text, nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("salt", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("last_active", sa.Float),
    )
    table(
        "agent_sessions",
        sa.Column("token_hash", sa.Text, primary_key=True),
        sa.Column("username", sa.Text, nullable=False),
        sa.Column("csrf_token", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("last_seen", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    _index("agent_sessions_by_user", "agent_sessions", ["username"])
    # Roles beyond answering handoffs (connectors/agents/auth.py ROLES).
    table(
        "agent_roles",
        sa.Column("username", sa.Text, primary_key=True),
        sa.Column("role", sa.Text, primary_key=True),
    )
    table(
        "canned_replies",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column(
            "source", sa.Text, sa.CheckConstraint("source IN ('file', 'agent')"), nullable=False
        ),
        sa.Column("created_by", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    table(
        "slack_handoff_threads",
        sa.Column("handoff_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("ts", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("channel", "ts"),
    )


def _table(name: str, *columns: sa.schema.SchemaItem) -> None:
    # AUTOINCREMENT on SQLite: an id is never reused after retention deleted the newest row.
    op.create_table(name, *columns, if_not_exists=True, sqlite_autoincrement=True)


def _index(name: str, table: str, columns: list[object], **options: object) -> None:
    op.create_index(name, table, columns, if_not_exists=True, **options)  # type: ignore[arg-type]


def _widen_legacy_transcript() -> None:
    """A transcript from the first release allowed only users and the bot to speak."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    row = bind.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'transcript'")
    ).fetchone()
    if row is None or "CHECK (" + _ROLES + ")" in " ".join(str(row[0]).split()):
        return
    for statement in (
        "CREATE TABLE transcript_new (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "conversation_id TEXT NOT NULL, role TEXT NOT NULL CHECK (" + _ROLES + "), "
        "body TEXT NOT NULL, created_at REAL NOT NULL)",
        "INSERT INTO transcript_new (id, conversation_id, role, body, created_at) "
        "SELECT id, conversation_id, role, body, created_at FROM transcript",
        "DROP TABLE transcript",
        "ALTER TABLE transcript_new RENAME TO transcript",
    ):
        bind.execute(sa.text(statement))
