-- Take back the messages whose lease ran out (their sender died): pending ones go back in
-- the outbox; those the dead sender left `submitting` stay in flight, their lease renewed,
-- until the caller has scheduled their check with Twilio.
-- KEYS: outbox, in flight. ARGV: message key prefix, lease (seconds).
-- Answers [id, attempt, ...] of the `submitting` ones.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 1000)
local unsure = {}
for _, id in ipairs(ids) do
  local m = redis.call('HMGET', ARGV[1] .. id, 'status', 'attempts')
  if m[1] == 'submitting' then
    redis.call('ZADD', KEYS[2], now + ARGV[2], id)
    table.insert(unsure, id)
    table.insert(unsure, m[2] or '0')
  else
    redis.call('ZREM', KEYS[2], id)
    if m[1] == 'pending' then redis.call('RPUSH', KEYS[1], id) end
  end
end
return unsure
