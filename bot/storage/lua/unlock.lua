-- Release a lock only if it still holds our token (it may have expired and moved on).
-- KEYS[1] the lock: a contact's, or the one held while Redis' data is migrated
-- ARGV[1] the token it was taken with
-- Answers 1 when released.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
