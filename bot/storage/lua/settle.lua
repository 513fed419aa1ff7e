-- Settle attempt ARGV[1] of a message whose sender is done with it: a new status (and
-- error code), and back in the outbox if ARGV[4] is '1'. Nothing happens if the message has
-- moved on since: linked to a sid by a status callback, or tried again.
-- KEYS: message, outbox. ARGV: attempt, status, error code or '', requeue, message id.
local m = redis.call('HMGET', KEYS[1], 'status', 'sid', 'attempts')
if m[1] ~= 'submitting' or (m[2] and m[2] ~= '') or m[3] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'error_code', ARGV[3]) end
if ARGV[4] == '1' then redis.call('RPUSH', KEYS[2], ARGV[5]) end
return 1
