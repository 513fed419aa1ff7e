-- Record a click on a tracked short link: find the link, append the click to the record
-- stream (the link's JSON as stored, the click's id and user agent) and, when ARGV[3]
-- asks, set a timer due at ARGV[4] through which the worker lets the click move the
-- contact's journeys (bot.delivery.timers.ClickTimer, dated by Redis' clock as the
-- stream's entries are). Nothing is written for a code Redis does not know.
-- KEYS[1] the short link (its code's slot)
-- KEYS[2] the record stream
-- KEYS[3] timers
-- ARGV[1] the click's id
-- ARGV[2] the user agent, or ''
-- ARGV[3] '1' to set the click's timer
-- ARGV[4] the timer's due time (epoch seconds)
-- ARGV[5] the link's code
-- Cluster: three slots, the link's, the record stream's and the timers'. The redirect
-- answers at once, so the click is found and kept in one round trip; on a Cluster all
-- three must be served by one node.
-- Answers the link's JSON, or nil when the code is unknown to Redis.
local raw = redis.call('GET', KEYS[1])
if not raw then return nil end
redis.call('XADD', KEYS[2], '*', 'k', raw, 'i', ARGV[1], 'ua', ARGV[2])
if ARGV[3] == '1' then
  local now = redis.call('TIME')
  local at = tonumber(now[1]) + tonumber(now[2]) / 1000000
  local timer = {type = 'click', click = ARGV[1], code = ARGV[5], at = at}
  redis.call('ZADD', KEYS[3], ARGV[4], cjson.encode(timer))
end
return raw
