-- Hand a pending message to exactly one sender.
-- It also reads what the guardrails need from the contact, so a send costs one round trip
-- before Twilio and one after: {hash, exists, subscribed, undeliverable, marketing}.
-- KEYS: message, contact. ARGV: the claim's token. The time of the attempt is Redis' own,
-- so every worker measures from one clock. The same claim made again (its reply was lost
-- and the script runner retried it) answers as the first did.
local m = redis.call('HMGET', KEYS[1], 'status', 'claim', 'sid')
if not (m[1] == 'submitting' and m[2] == ARGV[1]) then
  if m[1] ~= 'pending' or (m[3] and m[3] ~= '') then return nil end
  local t = redis.call('TIME')
  local now = string.format('%.6f', tonumber(t[1]) + tonumber(t[2]) / 1000000)
  redis.call('HSET', KEYS[1], 'status', 'submitting', 'submitted_at', now, 'claim', ARGV[1])
  redis.call('HINCRBY', KEYS[1], 'attempts', 1)
end
local standing = {'0', '0', '', '0'}
local raw = redis.call('GET', KEYS[2])
if raw then
  local c = cjson.decode(raw)
  local consent = type(c.consent) == 'table' and c.consent.marketing or nil
  standing = {
    '1',
    c.subscribed == true and '1' or '0',
    (c.undeliverable ~= nil and c.undeliverable ~= cjson.null) and tostring(c.undeliverable) or '',
    (type(consent) == 'table' and consent.granted == true) and '1' or '0',
  }
end
return {redis.call('HGETALL', KEYS[1]), standing[1], standing[2], standing[3], standing[4]}
