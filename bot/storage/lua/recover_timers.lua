-- Put timers claimed before ARGV[1] whose worker never finished them back in
-- the due set, due at ARGV[2]; answer how many.
-- KEYS[1] due timers
-- KEYS[2] the timers' in-flight set
-- ARGV[1] claimed before
-- ARGV[2] due at
-- Answers how many came back.
local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, 1000)
for _, member in ipairs(stale) do
  redis.call('ZREM', KEYS[2], member)
  redis.call('ZADD', KEYS[1], ARGV[2], member)
end
return #stale
