"""One contact's conversation: runner, turn, compliance, journeys, schedules and actions.

Also the log events a conversation records and the client of a Rasa NLU server.
"""
