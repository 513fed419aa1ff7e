-- Move a message to a status only if it ranks higher than its current one. A callback
-- that arrives before the sender has linked its MessageSid is parked under the sid and
-- applied by accept.lua, so an early `delivered` is not lost. The caller reads the link
-- first and passes the message it names; if the link has changed since (the sender linked
-- it in between), nothing is written and the caller reads the link again.
-- KEYS[1] the sid's link to its message (the sid's slot)
-- KEYS[2] the sid's parked status (the sid's slot)
-- KEYS[3] the record stream, which gets the message's new status
-- KEYS[4] outbound counts by status, which count a status when it is applied to a message
-- Redis still holds (one that has left it is no longer known to have moved forward)
-- KEYS[5] the message the caller found linked, if it found one (its contact's slot)
-- ARGV[1] status
-- ARGV[2] error code or ''
-- ARGV[3] status ranks (JSON)
-- ARGV[4] how long a parked status is kept (seconds)
-- ARGV[5] the message ref the caller found linked, or ''
-- Cluster: the sid's slot, the record stream's (which the counts share), and the message's
-- once linked, for the reasons given in accept.lua; on a Cluster all must be served by one
-- node.
-- Answers {PARKED}, {RELINKED} or {APPLIED, status, 1 if it changed}.
local rank = cjson.decode(ARGV[3])
local linked = redis.call('GET', KEYS[1]) or ''
if linked ~= ARGV[5] then return {1} end
if linked == '' then
  local parked = redis.call('HGET', KEYS[2], 'status')
  if (not parked) or (rank[ARGV[1]] or 0) > (rank[parked] or 0) then
    redis.call('HSET', KEYS[2], 'status', ARGV[1], 'error_code', ARGV[2])
    redis.call('EXPIRE', KEYS[2], ARGV[4])
  end
  return {0}
end
if redis.call('EXISTS', KEYS[5]) == 0 then
  -- The message has left Redis (recorded, then trimmed): only the record takes the status.
  redis.call('XADD', KEYS[3], '*', 'm', ARGV[5], 's', ARGV[1], 'e', ARGV[2])
  return {2, ARGV[1], 1}
end
local current = redis.call('HGET', KEYS[5], 'status')
if current and (rank[ARGV[1]] or 0) <= (rank[current] or 0) then
  return {2, current, 0}
end
redis.call('HSET', KEYS[5], 'status', ARGV[1])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[5], 'error_code', ARGV[2]) end
redis.call('XADD', KEYS[3], '*', 'm', ARGV[5], 's', ARGV[1], 'e', ARGV[2])
redis.call('HINCRBY', KEYS[4], ARGV[1], 1)
return {2, ARGV[1], 1}
