-- Release a lock only if it still holds our token (it may have expired and moved on).
-- KEYS: lock. ARGV: token. Answers 1 when released.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
