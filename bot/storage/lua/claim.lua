-- Hand a pending message to exactly one sender.
-- It also reads what the guardrails need from the contact, so a send costs one round trip
-- before Twilio and one after. The contact's fields read here are listed in SCRIPT_FIELDS
-- (bot/storage/store.py), which a test holds to this file. The time of the attempt is
-- Redis' own, so every worker measures from one clock. The same claim made again (its
-- reply was lost and the script runner retried it) answers as the first did.
-- A marketing message that counts against frequency caps (its `when_capped` is set) takes
-- its place under them here too, when its contact may get marketing at all: under the
-- caps, the same step that makes it this sender's, so no other round trip is needed and
-- two workers can never both take the last place.
-- KEYS[1] the message (its contact's slot)
-- KEYS[2] the contact
-- KEYS[3] the contact's sent marketing (sorted set: message id by time sent)
-- ARGV[1] the claim's token
-- ARGV[2] now (seconds since the epoch), or absent when no cap applies
-- ARGV[3] the start of the longest window, as an exclusive bound: "(" and seconds
-- ARGV[4] the longest window, in milliseconds (how long the set is kept)
-- ARGV[5..] triples: a cap's count, its window in seconds, and its window's start as an
-- exclusive bound ("(" and seconds)
-- Answers nil (not pending, or claimed by another) or
-- {message hash, exists, subscribed, undeliverable, marketing consent, transactional
-- consent, time zone, place, when marketing consent last changed, when transactional
-- consent last changed, whether the time zone was set for the contact}: place is '' when no
-- cap applied, '0' when the message holds its place, else the time (seconds) when the
-- oldest message in its way leaves its window; the time zone was set ('1') or guessed from
-- the number ('0'), or it is not known ('', a contact stored before that was kept); and the
-- status of the journey run that sent the message ('' for none, or one no longer kept).
local m = redis.call('HMGET', KEYS[1], 'status', 'claim', 'sid')
if not (m[1] == 'submitting' and m[2] == ARGV[1]) then
  -- A deferred message comes back through the outbox when its time comes.
  if (m[1] ~= 'pending' and m[1] ~= 'deferred') or (m[3] and m[3] ~= '') then return nil end
  local t = redis.call('TIME')
  local now = string.format('%.6f', tonumber(t[1]) + tonumber(t[2]) / 1000000)
  redis.call('HSET', KEYS[1], 'status', 'submitting', 'submitted_at', now, 'claim', ARGV[1])
  redis.call('HINCRBY', KEYS[1], 'attempts', 1)
end
local standing = {'0', '0', '', '0', '1', '', '', '', '', ''}
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
  local timezone_set = ''
  if contact.timezone_set == true then
    timezone_set = '1'
  elseif contact.timezone_set == false then
    timezone_set = '0'
  end
  local marketing_changed = (decided and type(contact.consent.marketing) == 'table'
    and type(contact.consent.marketing.changed_at) == 'string')
    and contact.consent.marketing.changed_at or ''
  local transactional_changed = (decided and type(contact.consent.transactional) == 'table'
    and type(contact.consent.transactional.changed_at) == 'string')
    and contact.consent.transactional.changed_at or ''
  local run_status = ''
  local run = redis.call('HGET', KEYS[1], 'run')
  if run and type(contact.runs) == 'table' then
    for _, each in ipairs(contact.runs) do
      if each.id == run then run_status = tostring(each.status) end
    end
  end
  standing = {
    '1',
    contact.subscribed == true and '1' or '0',
    undeliverable,
    marketing and '1' or '0',
    transactional and '1' or '0',
    timezone,
    marketing_changed,
    transactional_changed,
    timezone_set,
    run_status,
  }
end
local place = ''
local capped = redis.call('HGET', KEYS[1], 'when_capped')
if ARGV[2] and capped and capped ~= '' and standing[2] == '1' and standing[3] == ''
    and standing[4] == '1' then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[3])
  local id = redis.call('HGET', KEYS[1], 'id')
  if redis.call('ZSCORE', KEYS[3], id) then
    place = '0'
  else
    local room = 0
    for i = 5, #ARGV, 3 do
      local cap, window = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
      local inside = redis.call('ZRANGEBYSCORE', KEYS[3], ARGV[i + 2], '+inf', 'WITHSCORES')
      local n = #inside / 2
      if n >= cap then
        -- Room comes when all but cap - 1 of those inside have left the window.
        room = math.max(room, tonumber(inside[(n - cap) * 2 + 2]) + window)
      end
    end
    if room > 0 then
      place = string.format('%.6f', room)
    else
      redis.call('ZADD', KEYS[3], ARGV[2], id)
      redis.call('PEXPIRE', KEYS[3], ARGV[4])
      place = '0'
    end
  end
end
return {
  redis.call('HGETALL', KEYS[1]),
  standing[1], standing[2], standing[3], standing[4], standing[5], standing[6], place,
  standing[7], standing[8], standing[9], standing[10],
}
