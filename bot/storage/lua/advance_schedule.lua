-- Move a schedule trigger's due time on, only if it is still the one the caller read:
-- of several workers that see the trigger due, exactly one runs its sweep.
-- KEYS[1] schedule triggers' due times
-- ARGV[1] the trigger's name
-- ARGV[2] the due time the caller read
-- ARGV[3] the next due time
-- Answers 1 if this call moved it on.
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
