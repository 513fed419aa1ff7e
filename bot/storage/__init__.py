"""Hot state in Redis: the store, its Lua scripts and key names, connections, migrations.

Also the embedded Redis that `make run` owns when REDIS_URL is unset.
"""
