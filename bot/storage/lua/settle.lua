-- Settle attempt ARGV[1] of a message whose sender is done with it: a new status (and
-- error code), and back in the outbox if ARGV[4] is '1'. Nothing happens if the message has
-- moved on since: linked to a sid by a status callback, or tried again. An attempt that
-- ends without the message going out gives back, in the same step, any place its claim took
-- under the frequency caps: once, and never for an attempt that has moved on.
-- KEYS[1] the message (its contact's slot)
-- KEYS[2] outbox
-- KEYS[3] the record stream, which gets the message's new status
-- KEYS[4] outbound counts by status, which count the new status unless it is `pending`
-- (a message put back for another try has been counted as pending once already)
-- KEYS[5] the contact's sent marketing (sorted set: message id by time sent)
-- ARGV[1] attempt
-- ARGV[2] status
-- ARGV[3] error code or ''
-- ARGV[4] '1' to put the message back in the outbox
-- ARGV[5] the message's ref, as the outbox holds it
-- ARGV[6] why (a guardrail's reason for `suppressed`) or ''
-- ARGV[7] the message's id, to give its place under the caps back, or ''
-- Cluster: two slots, the message's contact's (which its sent marketing shares) and the
-- outbox's. Making the message pending and queueing it in one step is what keeps it from
-- being stranded, pending but in no queue; the record stream (a third slot) gets the message
-- in the same step, and the counts share its slot. On a Cluster all three must be served by
-- one node.
-- Answers 1 when settled, 0 when the message has moved on.
local m = redis.call('HMGET', KEYS[1], 'status', 'sid', 'attempts')
if m[1] ~= 'submitting' or (m[2] and m[2] ~= '') or m[3] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'error_code', ARGV[3]) end
-- Given back before the message is back in the outbox, where another sender may take it.
if ARGV[7] ~= '' then redis.call('ZREM', KEYS[5], ARGV[7]) end
local why = ARGV[6] or ''
if why ~= '' then redis.call('HSET', KEYS[1], 'reason', why) end
if ARGV[4] == '1' then redis.call('RPUSH', KEYS[2], ARGV[5]) end
redis.call('XADD', KEYS[3], '*', 'm', ARGV[5], 's', ARGV[2], 'e', ARGV[3], 'r', why)
if ARGV[2] ~= 'pending' then redis.call('HINCRBY', KEYS[4], ARGV[2], 1) end
return 1
