-- Move a message to a status only if it ranks higher than its current one. A callback
-- that arrives before the sender has linked its MessageSid is parked under the sid
-- and applied by _ACCEPT, so an early `delivered` is not lost.
-- KEYS: the sid's link to its message, the sid's parked status.
-- ARGV: status, error code or '', status ranks (JSON), message key prefix.
-- Answers nil (parked) or {message id, phone, status, 1 if it changed}.
local rank = cjson.decode(ARGV[3])
local id = redis.call('GET', KEYS[1])
if not id then
  local parked = redis.call('HGET', KEYS[2], 'status')
  if (not parked) or (rank[ARGV[1]] or 0) > (rank[parked] or 0) then
    redis.call('HSET', KEYS[2], 'status', ARGV[1], 'error_code', ARGV[2])
    redis.call('EXPIRE', KEYS[2], 3600)
  end
  return nil
end
local key = ARGV[4] .. id
local current = redis.call('HGET', key, 'status')
local phone = redis.call('HGET', key, 'phone')
if current and (rank[ARGV[1]] or 0) <= (rank[current] or 0) then
  return {id, phone, current, 0}
end
redis.call('HSET', key, 'status', ARGV[1])
if ARGV[2] ~= '' then redis.call('HSET', key, 'error_code', ARGV[2]) end
return {id, phone, ARGV[1], 1}
