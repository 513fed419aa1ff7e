"""Getting messages out and time moving: the outbox, the sender and durable timers."""
