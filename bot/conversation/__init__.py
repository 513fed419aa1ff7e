"""One contact's conversation: the runner, the turn, compliance, journeys and actions."""
