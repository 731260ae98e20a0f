"""Alembic revisions of the central schema."""
