"""The database: the engine (SQLite or PostgreSQL), every table, migrations, value bounds."""
