-- Put timers claimed before ARGV[1] whose worker never finished them back in
-- the due set, due at ARGV[2]; answer how many.
-- KEYS: due timers, in flight. ARGV: claimed before, due at.
local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, 1000)
for _, member in ipairs(stale) do
  redis.call('ZREM', KEYS[2], member)
  redis.call('ZADD', KEYS[1], ARGV[2], member)
end
return #stale
