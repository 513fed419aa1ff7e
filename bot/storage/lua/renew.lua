-- Extend the leases of messages still in flight, by Redis' clock.
-- KEYS[1] the outbox's in-flight set
-- ARGV[1] lease (seconds)
-- ARGV[2..] the refs whose leases are renewed
-- Answers how many were named.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', now + ARGV[1], ARGV[i]) end
return #ARGV - 1
