"""Alembic migrations of the scheduler's tables (run through `scheduler.database.upgrade`)."""
