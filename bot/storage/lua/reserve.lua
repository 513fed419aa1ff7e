-- Take a place for one marketing message under every frequency cap that applies, or say when
-- there will be room. One script per contact, so however many workers send at once, a
-- contact never gets more than a cap allows.
-- KEYS[1] the contact's sent marketing (sorted set: message id by time sent)
-- ARGV[1] now (seconds since the epoch)
-- ARGV[2] the message's id
-- ARGV[3] the start of the longest window, as an exclusive bound: "(" and seconds
-- ARGV[4] the longest window, in milliseconds (how long the set is kept)
-- ARGV[5..] triples: a cap's count, its window in seconds, and its window's start as an
-- exclusive bound ("(" and seconds)
-- Answers 0 when the place is taken (or was, by this message before), else the time (as a
-- string of seconds) when the oldest message in the way leaves its window.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then return 0 end
local room = 0
for i = 5, #ARGV, 3 do
  local cap, window = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  local inside = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[i + 2], '+inf', 'WITHSCORES')
  local n = #inside / 2
  if n >= cap then
    -- Room comes when all but cap - 1 of those inside have left the window.
    room = math.max(room, tonumber(inside[(n - cap) * 2 + 2]) + window)
  end
end
if room > 0 then return string.format('%.6f', room) end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 0
