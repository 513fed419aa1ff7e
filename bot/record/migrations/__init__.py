"""Alembic migrations for the record: env.py, and one module per revision in versions/."""
