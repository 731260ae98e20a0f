"""Alembic environment for the central PostgreSQL schema (run through ``sputnik_edge.central.migrate``)."""
