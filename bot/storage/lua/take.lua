-- Pop up to ARGV[1] message refs from the outbox, oldest first, and lease them to the caller.
-- Leases are timed by Redis' clock, so workers whose clocks disagree still agree on them.
-- KEYS[1] outbox
-- KEYS[2] the outbox's in-flight set
-- ARGV[1] how many
-- ARGV[2] lease (seconds)
-- Answers the refs.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local refs = redis.call('LPOP', KEYS[1], ARGV[1])
if not refs then return {} end
for _, ref in ipairs(refs) do redis.call('ZADD', KEYS[2], now + ARGV[2], ref) end
return refs
