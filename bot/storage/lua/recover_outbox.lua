-- Take back messages whose lease ran out (their sender died): pending ones go back in the
-- outbox; those the dead sender left `submitting` stay in flight, their lease renewed,
-- until the caller has scheduled their check with Twilio. The caller names the messages
-- it saw expired; one whose lease was renewed or ended since is left alone.
-- KEYS[1] outbox
-- KEYS[2] the outbox's in-flight set
-- KEYS[3..] the messages, one for each ref in ARGV[2..], in the same order
-- ARGV[1] lease (seconds)
-- ARGV[2..] the refs, as the in-flight set holds them
-- Cluster: the outbox's slot and the slots of the messages' contacts. Whether a message
-- goes back in the queue or waits for a check depends on its status, read in the same
-- step; on a Cluster all these slots must be served by one node.
-- Answers [ref, attempt, ...] of the `submitting` ones.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local unsure = {}
for i = 2, #ARGV do
  local ref = ARGV[i]
  local lease = redis.call('ZSCORE', KEYS[2], ref)
  if lease and tonumber(lease) <= now then
    local m = redis.call('HMGET', KEYS[i + 1], 'status', 'attempts')
    if m[1] == 'submitting' then
      redis.call('ZADD', KEYS[2], now + ARGV[1], ref)
      table.insert(unsure, ref)
      table.insert(unsure, m[2] or '0')
    else
      redis.call('ZREM', KEYS[2], ref)
      if m[1] == 'pending' then redis.call('RPUSH', KEYS[1], ref) end
    end
  end
end
return unsure
