-- Extend the leases of messages still in flight, by Redis' clock.
-- KEYS: in flight. ARGV: lease (seconds), then the ids whose leases are renewed.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', now + ARGV[1], ARGV[i]) end
return #ARGV - 1
