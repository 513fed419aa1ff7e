-- Move up to ARGV[2] timers due by ARGV[1] from the due set to the in-flight set,
-- scored ARGV[3], and answer them, earliest first.
-- KEYS[1] due timers
-- KEYS[2] the timers' in-flight set
-- ARGV[1] now
-- ARGV[2] how many
-- ARGV[3] now, as the in-flight score
-- Answers the timers' payloads.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[1], member)
  redis.call('ZADD', KEYS[2], ARGV[3], member)
end
return due
