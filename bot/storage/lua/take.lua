-- Pop up to ARGV[1] message ids from the outbox, oldest first, and lease them to the caller.
-- Leases are timed by Redis' clock, so workers whose clocks disagree still agree on them.
-- KEYS: outbox, in flight. ARGV: how many, lease (seconds). Answers the ids.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local ids = redis.call('LPOP', KEYS[1], ARGV[1])
if not ids then return {} end
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[2], now + ARGV[2], id) end
return ids
