"""Getting messages out and time moving: the outbox, the sender, timers and the worker."""
