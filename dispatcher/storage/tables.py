"""Every table of the dispatcher, in one place (SQLAlchemy Core).

Alembic migrations in ``dispatcher/storage/migrations`` create these; a change here needs a new
migration. Bulk paths (contact import, planning) use Core executemany on these tables,
never one ORM object per row.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

# SQLite only makes INTEGER PRIMARY KEY an alias of the rowid (auto-increment, fast).
Id = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

campaigns = Table(
    "campaigns", metadata,
    Column("id", String(64), primary_key=True),
    Column("title", Text, nullable=False),
    Column("owner", Text, nullable=False),
    Column("current_version", Integer, nullable=False),
    # When a new version awaits approval: keep running the last approved one (true) or
    # stop firing until the new one is approved (false, the default).
    Column("keep_approved", Boolean, nullable=False, server_default=false()),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

campaign_versions = Table(
    "campaign_versions", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("campaign_id", String(64), ForeignKey("campaigns.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("source_path", Text, nullable=False),
    Column("source_text", Text, nullable=False),
    Column("definition", Text, nullable=False),  # the validated campaign as JSON
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("approved_by", Text),  # nothing is planned from a version nobody approved
    Column("approved_at", DateTime(timezone=True)),
    UniqueConstraint("campaign_id", "version"),
)

# Every lifecycle action on a campaign: who, when, what, which version.
audit_log = Table(
    "audit_log", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", String(32), nullable=False),  # apply, approve, plan, pause, ...
    Column("campaign_id", String(64), ForeignKey("campaigns.id"), nullable=False),
    Column("version", Integer),
    Column("detail", Text),
    Index(None, "campaign_id", "id"),
)

# Each review stage a campaign version passed ([review] stages in config): who and when.
# A stage is passed once per version, and nobody passes two stages of one version; the
# version's approved_by is set only when its last stage passes.
review_approvals = Table(
    "review_approvals", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("campaign_id", String(64), ForeignKey("campaigns.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("stage", String(64), nullable=False),  # the name from config: 初审, 复审, ...
    Column("position", SmallInteger, nullable=False),  # 1 for the first configured stage
    Column("approved_by", Text, nullable=False),
    Column("approved_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("campaign_id", "version", "stage"),
    UniqueConstraint("campaign_id", "version", "approved_by"),
)

contacts = Table(
    "contacts", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("phone", String(20), nullable=False, unique=True),  # E.164
    Column("line_type", String(24), nullable=False),  # mobile, fixed_line, ...
    Column("area", String(16)),  # residential, work, activity, street
    Column("district", Text),
    Column("name", Text),
    Column("tags", Text),  # comma-separated
    Index(None, "name"),  # the delivery log's search by name
)

contact_lists = Table(
    "contact_lists", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

list_members = Table(
    "list_members", metadata,
    Column("list_id", Id, ForeignKey("contact_lists.id"), primary_key=True),
    Column("contact_id", Id, ForeignKey("contacts.id"), primary_key=True),
    Index(None, "contact_id", "list_id"),
)

optouts = Table(
    "optouts", metadata,
    Column("channel", String(32), primary_key=True),  # "*" for every channel
    Column("address", String(128), primary_key=True),
    Column("source", String(32), nullable=False),  # operator, import, provider, reply
    Column("reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

runs = Table(
    "runs", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("campaign_id", String(64), ForeignKey("campaigns.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("fire_time", DateTime(timezone=True), nullable=False),
    # planning, planned (sendable), paused, cancelled, completed
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("planned_at", DateTime(timezone=True)),
    Column("completed_at", DateTime(timezone=True)),
    UniqueConstraint("campaign_id", "fire_time"),  # one run per firing: firing is idempotent
)

deliveries = Table(
    "deliveries", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", Id, ForeignKey("runs.id"), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("placement", SmallInteger, nullable=False),
    Column("target", String(128), nullable=False),
    # 1 for the deliverable row; 2, 3, ... for skipped duplicates of the same target.
    Column("occurrence", SmallInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", String(16)),  # skip reason when status is skipped
    Column("detail", Text),
    Column("contact_id", Id),
    Column("provider_ref", String(64)),
    # What else the provider answered that its later reports refer to (WeChat msg_data_id).
    Column("provider_data", String(64)),
    Column("error_code", String(64)),
    Column("attempts", SmallInteger, nullable=False, server_default="0"),
    Column("units", SmallInteger),  # what the send cost in the channel's unit (segments)
    # While sending: when this attempt started (lookup asks the provider for sends since
    # then) and until when the sender holds the row; past that, the row is reconciled.
    Column("attempt_started_at", DateTime(timezone=True)),
    Column("lease_until", DateTime(timezone=True)),
    Column("next_attempt_at", DateTime(timezone=True)),  # a planned retry waits until then
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("run_id", "channel", "target", "occurrence"),
    CheckConstraint("occurrence = 1 OR reason = 'duplicate'", name="only_duplicates_repeat"),
    Index(None, "run_id", "status"),  # the engine claims planned rows, reconciles sending ones
    Index(None, "provider_ref"),  # receipts find their row
    Index(None, "run_id", "channel", "placement", "status", "reason"),
    Index(None, "updated_at", "id"),
    Index(None, "target", "updated_at", "id"),  # a person's delivery history, newest first
    Index(None, "run_id", "updated_at", "id"),  # a campaign's log: each run's newest first
)

# The LED screen registry (`dispatcher screens import`). A screen's feed and proof-of-play
# token is derived from the channel's secret and token_version (rotating it bumps it).
screens = Table(
    "screens", metadata,
    Column("id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("kind", String(16), nullable=False),  # building, outdoor, facade, shopfront
    Column("district", Text),
    Column("area", String(16)),
    Column("address", Text),
    Column("latitude", Float),
    Column("longitude", Float),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("formats", Text, nullable=False),  # "jpg,mp4,png,text"
    Column("timezone", String(64), nullable=False),
    Column("audience_per_play", Integer, nullable=False),
    Column("audience_source", Text, nullable=False),  # how audience_per_play was estimated
    Column("controller", String(8), nullable=False),  # pull or push
    Column("endpoint", Text),  # a push controller's URL
    Column("tags", Text, nullable=False, server_default=""),  # ";"-separated
    Column("token_version", Integer, nullable=False, server_default="1"),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Named screen groups: a rule ("kind=outdoor district=高新区", "tag=lobby") over the registry.
screen_groups = Table(
    "screen_groups", metadata,
    Column("name", String(64), primary_key=True),
    Column("rule", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Proof of play: one record per (screen, delivery row, start); a replayed batch adds none.
plays = Table(
    "plays", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("screen_id", String(64), nullable=False),
    Column("delivery_id", Id, ForeignKey("deliveries.id"), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=False),
    Column("count", Integer, nullable=False),
    Column("batch", String(64), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("screen_id", "delivery_id", "started_at"),
    Index(None, "delivery_id", "started_at"),
)

# Cinemas (`dispatcher cinemas import`): each books through a named booking system of
# [channels.cinema] and has preshow blocks with their lengths ("ads:240;trailers:600").
cinemas = Table(
    "cinemas", metadata,
    Column("id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("district", Text),
    Column("address", Text),
    Column("system", String(64), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("preshow", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # The cinema's token is derived from the channel's secret and this version (0: the
    # original token); `dispatcher cinemas token ID --rotate` bumps it.
    Column("token_version", Integer, nullable=False, server_default="0"),
)

auditoriums = Table(
    "auditoriums", metadata,
    Column("cinema_id", String(64), ForeignKey("cinemas.id"), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("seats", Integer, nullable=False),
)

# Screenings (`dispatcher showtimes import`, re-imported as schedules change).
screenings = Table(
    "screenings", metadata,
    Column("id", String(96), primary_key=True),
    Column("cinema_id", String(64), ForeignKey("cinemas.id"), nullable=False),
    Column("auditorium_id", String(64), nullable=False),
    Column("film", Text, nullable=False),
    Column("rating", String(16), nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("expected_seats", Integer, nullable=False),
    Column("sold_seats", Integer),
    Column("status", String(16), nullable=False),  # scheduled or cancelled
    Column("admissions", Integer),  # reported by the cinema after the screening
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index(None, "cinema_id", "starts_at"),
)

# People who use the web app and the REST API, with one role each.
users = Table(
    "users", metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(16), nullable=False),  # planner, approver, operator, admin
    Column("password_hash", Text, nullable=False),  # scrypt, with its salt and costs
    Column("disabled", Boolean, nullable=False, server_default=false()),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Stored in the session cookie at sign-in; bumped on sign-out, disable and role change,
    # which ends every session signed in before.
    Column("session_version", Integer, nullable=False, server_default="0"),
    Column("disabled_at", DateTime(timezone=True)),
    Column("disabled_by", Text),  # who ran `dispatcher user disable`
    Column("locale", String(8)),  # the dashboard language the user chose (zh_CN, en, zh_TW)
    Column("display_name", String(64)),  # 王小明: what pages show beside the sign-in name
    Column("department", String(64)),  # 宣传科: who the user works for
)

# API tokens: only their SHA-256 is stored; the token is shown once when created.
api_tokens = Table(
    "api_tokens", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_name", String(64), ForeignKey("users.name"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("label", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_used_at", DateTime(timezone=True)),
    Column("prefix", String(16)),  # "dsp_" and the next few characters: tells tokens apart
    Column("revoked_at", DateTime(timezone=True)),  # set: the token answers 401
    Column("revoked_by", Text),
)

# Reach of offline placements entered by hand (posters, notices, boards, brochures, talks),
# kept with who entered it; reported with source "manual".
manual_reach = Table(
    "manual_reach", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("campaign_id", String(64), ForeignKey("campaigns.id"), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("metric", String(32), nullable=False),
    Column("value", BigInteger, nullable=False),
    Column("district", Text),
    Column("area", String(16)),
    Column("note", Text),
    Column("entered_by", Text, nullable=False),
    Column("entered_at", DateTime(timezone=True), nullable=False),
    Index(None, "campaign_id", "channel"),
)

# Figures providers report for a row (a WeChat job's SentCount, an article's reads by
# day). One value per (row, metric, period): a repeated report replaces it.
provider_reports = Table(
    "provider_reports", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("delivery_id", Id, ForeignKey("deliveries.id"), nullable=False),
    Column("metric", String(32), nullable=False),
    Column("period", String(10), nullable=False),  # "" or YYYY-MM-DD (cumulative to it)
    Column("value", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("delivery_id", "metric", "period"),
)

delivery_events = Table(
    "delivery_events", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("delivery_id", Id),  # null for run-level events (a whole run planned)
    Column("run_id", Id, ForeignKey("runs.id")),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(32), nullable=False),  # planner, engine, webhook, operator
    Column("event", String(32), nullable=False),
    Column("detail", Text),
    Index(None, "delivery_id"),
)

# The Celery executor's work, one row per block of a run's ids on one channel. A task
# names a block; this table is how the feeder knows what is queued, what a worker is
# doing, and what to queue again after a lost worker or a broker restart.
send_tasks = Table(
    "send_tasks", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", Id, ForeignKey("runs.id"), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("first_id", Id, nullable=False),
    Column("last_id", Id, nullable=False),
    Column("state", String(16), nullable=False),  # idle, queued, running
    Column("due_at", DateTime(timezone=True)),  # idle: when it next has work (null: none)
    Column("enqueued_at", DateTime(timezone=True)),
    Column("enqueued", Integer, nullable=False, server_default="0"),  # times queued
    Column("worker", String(128)),  # running: the worker's Celery name
    Column("started_at", DateTime(timezone=True)),
    Column("heartbeat_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("sent", Integer, nullable=False, server_default="0"),  # rows done, all tasks
    UniqueConstraint("run_id", "channel", "first_id"),
    Index(None, "state", "due_at"),
)

# What venues reported that cannot be true (admissions above the auditorium's seats, more
# plays than the schedule allows, plays outside the campaign's dates, near-duplicates):
# refused, kept here with the reason so operators can see what was refused and why.
refused_reports = Table(
    "refused_reports", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("channel", String(32), nullable=False),  # cinema, led
    Column("venue", Text, nullable=False),  # the cinema's or screen's id
    Column("delivery_id", Id),  # the booking or placement row, when one was named
    Column("reason", String(32), nullable=False),  # machine name, e.g. above_capacity
    Column("detail", Text, nullable=False),  # what was reported and what was allowed
    Column("received_at", DateTime(timezone=True), nullable=False),
    # SHA-256 of what was refused: a venue that sends the same batch again is listed once.
    Column("fingerprint", String(64), nullable=False, unique=True),
    Index(None, "channel", "received_at"),
)

# Nonces of signed provider pushes already taken (WeChat events): a push whose nonce is
# here is a replay and is refused. Rows older than twice the channel's freshness window
# are pruned as new ones come (dispatcher/seen_nonces.py).
seen_nonces = Table(
    "seen_nonces", metadata,
    Column("channel", String(32), primary_key=True),
    Column("nonce", String(64), primary_key=True),
    Column("seen_at", DateTime(timezone=True), nullable=False),
    Index(None, "seen_at"),
)
