"""Analytics: each journey's figures for a date range, read from the record's rollups.

`figures.py` answers `GET /api/analytics/journeys/<id>` (the contract's shape, and
more); `splits.py` says whether an A/B split has a winner. The rollups themselves are
kept by the record's writer (bot/record/rollups.py, bot/record/facts.py).
"""
