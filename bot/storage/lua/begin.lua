-- Start handling an inbound message in one round trip: skip it if a turn for its MessageSid
-- has committed, else take the contact's lock and read the contact. Nothing lasting is
-- written here: a MessageSid counts as handled only once its turn commits (see commit.lua),
-- so an attempt that dies before its commit leaves nothing behind that would hide the retry.
-- A lock token is "<MessageSid>:<32 hex digits>"; with ARGV[4] = '1' a lock held by an
-- earlier attempt at the same MessageSid is taken over, since that attempt is dead or
-- cannot commit anyway.
-- KEYS[1] the MessageSid's handled marker (the contact's slot)
-- KEYS[2] the contact's lock
-- KEYS[3] the contact
-- ARGV[1] lock token
-- ARGV[2] lock lease (ms)
-- ARGV[3] the MessageSid followed by ':', how every attempt's token at it starts
-- ARGV[4] '1' to take over a lock held by an attempt at the same MessageSid
-- Answers {DUPLICATE}, {BUSY} or {LOCKED, contact json}.
if redis.call('EXISTS', KEYS[1]) == 1 then return {0} end
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[1] then
  local prefix = ARGV[3]
  local same = #holder == #prefix + 32 and string.sub(holder, 1, #prefix) == prefix
  if not (same and ARGV[4] == '1') then return {1} end
end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return {2, redis.call('GET', KEYS[3])}
