-- Take a place for one marketing message under every frequency cap that applies, or say when
-- there will be room. One script per contact, so however many workers send at once, a
-- contact never gets more than a cap allows.
-- KEYS[1] the contact's sent marketing (sorted set: message id by time sent)
-- ARGV[1] now (seconds since the epoch)
-- ARGV[2] the message's id
-- ARGV[3], ARGV[4], ... pairs of (count, window in seconds)
-- Answers 0 when the place is taken (or was, by this message before), else the time (as a
-- string of seconds) when the oldest message in the way leaves its window.
local now = tonumber(ARGV[1])
local longest = 0
for i = 3, #ARGV, 2 do longest = math.max(longest, tonumber(ARGV[i + 1])) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. tostring(now - longest))
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then return 0 end
local room = 0
for i = 3, #ARGV, 2 do
  local cap, window = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  local inside = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. tostring(now - window), '+inf',
    'WITHSCORES')
  local n = #inside / 2
  if n >= cap then
    -- Room comes when all but cap - 1 of those inside have left the window.
    room = math.max(room, tonumber(inside[(n - cap) * 2 + 2]) + window)
  end
end
if room > 0 then return string.format('%.6f', room) end
redis.call('ZADD', KEYS[1], now, ARGV[2])
redis.call('PEXPIRE', KEYS[1], math.ceil(longest * 1000))
return 0
