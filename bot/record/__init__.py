"""The record: what must last and be queried, in SQL (SQLite by default, PostgreSQL in production).

Redis holds what is hot; the record holds every message, conversation event, journey run
and consent decision for as long as they are kept. `schema.py` says what is kept,
`migrations/` how each database gets there, `database.py` how to reach and upgrade it,
`export.py` how its rows are written out and `retention.py` what is deleted with age.
"""
