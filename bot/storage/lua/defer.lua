-- Hold attempt ARGV[1] of a message until later: quiet hours or a full frequency cap. It
-- leaves `submitting` for `deferred` with its send_at, and a timer that puts it back in the
-- outbox is set in the same step, so a deferred message is never stranded. Waiting is not a
-- try: the attempt the claim counted is given back.
-- KEYS[1] the message (its contact's slot)
-- KEYS[2] timers
-- KEYS[3] the record stream, which gets the new status and send_at
-- KEYS[4] the contact's sent marketing: a place the claim took under the caps is given back
-- KEYS[5] outbound counts by status, which count each hold as `deferred`
-- ARGV[1] attempt
-- ARGV[2] send_at, as the message and the record show it (ISO 8601)
-- ARGV[3] the timer's due time (seconds since the epoch)
-- ARGV[4] the timer (its member, as Timers stores it)
-- ARGV[5] why it waits
-- ARGV[6] the message's ref
-- ARGV[7] the message's id, to give its place under the caps back, or ''
-- ARGV[8] seconds the message is held longer than before
-- ARGV[9] the timeout timer of the wait the message asks for (its member), or '': it moves
-- by ARGV[8], so a question held till morning waits for its answer from when it is sent
-- Cluster: three slots (the message's contact's, the timers', the stream's, which the
-- counts share), as for settle: on a Cluster all must be served by one node.
-- Its timer is the one a retry's backoff uses (SendTimer of the ref): setting it moves any
-- earlier one, which is safe because every claim checks consent, quiet hours and caps anew.
-- Answers 1 when deferred, 0 when the message has moved on.
local m = redis.call('HMGET', KEYS[1], 'status', 'sid', 'attempts')
if m[1] ~= 'submitting' or (m[2] and m[2] ~= '') or m[3] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'status', 'deferred', 'send_at', ARGV[2], 'reason', ARGV[5])
redis.call('HINCRBY', KEYS[1], 'attempts', -1)
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
if ARGV[7] ~= '' then redis.call('ZREM', KEYS[4], ARGV[7]) end
if ARGV[9] ~= '' then redis.call('ZADD', KEYS[2], 'XX', 'INCR', ARGV[8], ARGV[9]) end
redis.call('XADD', KEYS[3], '*', 'm', ARGV[6], 's', 'deferred', 'e', '', 'a', ARGV[2], 'r', ARGV[5])
redis.call('HINCRBY', KEYS[5], 'deferred', 1)
return 1
