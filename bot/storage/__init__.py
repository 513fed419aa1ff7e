"""Where the bot keeps hot state: the Redis store, its Lua scripts and the embedded Redis."""
