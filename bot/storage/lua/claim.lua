-- Hand a pending message to exactly one sender.
-- It also reads what the guardrails need from the contact, so a send costs one round trip
-- before Twilio and one after. The contact's fields read here are listed in SCRIPT_FIELDS
-- (bot/storage/store.py), which a test holds to this file. The time of the attempt is
-- Redis' own, so every worker measures from one clock. The same claim made again (its
-- reply was lost and the script runner retried it) answers as the first did.
-- KEYS[1] the message (its contact's slot)
-- KEYS[2] the contact
-- ARGV[1] the claim's token
-- Answers nil (not pending, or claimed by another) or
-- {message hash, exists, subscribed, undeliverable, marketing consent, transactional
-- consent, time zone}.
local m = redis.call('HMGET', KEYS[1], 'status', 'claim', 'sid')
if not (m[1] == 'submitting' and m[2] == ARGV[1]) then
  -- A deferred message comes back through the outbox when its time comes.
  if (m[1] ~= 'pending' and m[1] ~= 'deferred') or (m[3] and m[3] ~= '') then return nil end
  local t = redis.call('TIME')
  local now = string.format('%.6f', tonumber(t[1]) + tonumber(t[2]) / 1000000)
  redis.call('HSET', KEYS[1], 'status', 'submitting', 'submitted_at', now, 'claim', ARGV[1])
  redis.call('HINCRBY', KEYS[1], 'attempts', 1)
end
local standing = {'0', '0', '', '0', '1', ''}
local raw = redis.call('GET', KEYS[2])
if raw then
  local contact = cjson.decode(raw)
  local undeliverable = ''
  if contact.undeliverable ~= nil and contact.undeliverable ~= cjson.null then
    undeliverable = tostring(contact.undeliverable)
  end
  local decided = type(contact.consent) == 'table'
  local marketing = decided and type(contact.consent.marketing) == 'table'
    and contact.consent.marketing.granted == true
  -- Transactional consent is implied until revoked.
  local transactional = not (decided and type(contact.consent.transactional) == 'table'
    and contact.consent.transactional.granted == false)
  local timezone = type(contact.timezone) == 'string' and contact.timezone or ''
  standing = {
    '1',
    contact.subscribed == true and '1' or '0',
    undeliverable,
    marketing and '1' or '0',
    transactional and '1' or '0',
    timezone,
  }
end
return {
  redis.call('HGETALL', KEYS[1]),
  standing[1], standing[2], standing[3], standing[4], standing[5], standing[6],
}
