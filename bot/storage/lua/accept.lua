-- Record Twilio's acceptance of a message: its sid, and the best status known for it.
-- A message already linked to another sid keeps it (answers nil): one message, one sid.
-- KEYS[1] the message (its contact's slot)
-- KEYS[2] the sid's link to its message (the sid's slot)
-- KEYS[3] the sid's parked status (the sid's slot)
-- KEYS[4] the record stream, which gets the message's new status (and its sid)
-- KEYS[5] outbound counts by status, which count the status it takes if that is new to it
-- KEYS[6] the send latency histogram: a message taken from `submitting` adds the seconds
-- since its claim (submitted_at) to the smallest bucket bound they fit, else to '+Inf'
-- ARGV[1] the message's ref, which the link holds
-- ARGV[2] sid
-- ARGV[3] status
-- ARGV[4] status ranks (JSON)
-- ARGV[5] error code or ''
-- ARGV[6] how long the link is kept (seconds)
-- ARGV[7] the histogram's bucket bounds (seconds), ascending, separated by spaces
-- Cluster: two slots, the message's and the sid's. A status callback finds the message
-- by its sid alone, so the link lives in the sid's slot; linking, taking the parked status
-- and setting the message's status in one step is what keeps an early callback from being
-- lost. The record stream is a third slot, appended to in the same step so the record
-- never misses a status; the counts and the histogram share its slot. On a Cluster all
-- three must be served by one node.
-- Answers the message's resulting status, or nil.
local rank = cjson.decode(ARGV[4])
local linked = redis.call('HGET', KEYS[1], 'sid')
if linked and linked ~= ARGV[2] then return nil end
if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[6])
local status = ARGV[3]
local parked = redis.call('HGETALL', KEYS[3])
local error_code = ARGV[5]
if #parked > 0 then
  local p = {}
  for i = 1, #parked, 2 do p[parked[i]] = parked[i + 1] end
  if (rank[p.status] or 0) > (rank[status] or 0) then
    status = p.status
    error_code = p.error_code or ''
  end
  redis.call('DEL', KEYS[3])
end
-- A status callback may have linked the message already and moved it further on.
local current = redis.call('HGET', KEYS[1], 'status')
if current == 'submitting' then
  local claimed = tonumber(redis.call('HGET', KEYS[1], 'submitted_at') or '')
  if claimed then
    local t = redis.call('TIME')
    local took = math.max(0, tonumber(t[1]) + tonumber(t[2]) / 1000000 - claimed)
    local bucket = '+Inf'
    for bound in string.gmatch(ARGV[7], '%S+') do
      if took <= tonumber(bound) then
        bucket = bound
        break
      end
    end
    redis.call('HINCRBY', KEYS[6], bucket, 1)
    redis.call('HINCRBYFLOAT', KEYS[6], 'sum', string.format('%.6f', took))
    redis.call('HINCRBY', KEYS[6], 'count', 1)
  end
end
if current and (rank[current] or 0) > (rank[status] or 0) then
  redis.call('HSET', KEYS[1], 'sid', ARGV[2])
  redis.call('XADD', KEYS[4], '*', 'm', ARGV[1], 's', current, 'sid', ARGV[2])
  return current
end
if status ~= current then redis.call('HINCRBY', KEYS[5], status, 1) end
redis.call('HSET', KEYS[1], 'sid', ARGV[2], 'status', status)
if error_code ~= '' then redis.call('HSET', KEYS[1], 'error_code', error_code) end
redis.call('XADD', KEYS[4], '*', 'm', ARGV[1], 's', status, 'sid', ARGV[2], 'e', error_code)
return status
