-- Apply the writes of one or more transitions (see Store.commit_many) atomically.
-- KEYS: contacts index, outbox, timers, stats. ARGV: the document, event log length.
-- - doc.done marks this very call as applied for a minute: the same call made again after
--   its reply was lost (the script runner retries on a new connection) changes nothing.
-- - doc.claims holds [marker key, token, ttl] for each inbound message the transitions
--   handle: if one was handled already by another attempt, nothing is written; otherwise
--   the markers are set with the writes, so a message counts as handled exactly when its
--   turn is saved.
-- - doc.fence holds [lock key, token] for each contact lock the transitions were made
--   under: if one is no longer held (it expired, or a retry took it over), nothing is
--   written, so a transition never overwrites one saved after it was read.
-- Answers {COMMITTED|REPEAT|LOCK_LOST, 1 if the drain flag is up because of this call}.
local doc = cjson.decode(ARGV[1])
local function flag_up()
  if doc.flag ~= cjson.null and redis.call('EXISTS', doc.flag[1]) == 1 then return 1 end
  return 0
end
if redis.call('EXISTS', doc.done) == 1 then return {0, flag_up()} end
for _, c in ipairs(doc.claims) do
  local marker = redis.call('GET', c[1])
  if marker then
    -- Our own marker: this very turn was saved and the reply lost on the way back.
    if marker == c[2] then return {0, flag_up()} end
    return {1, 0}
  end
end
for _, f in ipairs(doc.fence) do
  if redis.call('GET', f[1]) ~= f[2] then return {2, 0} end
end
for _, c in ipairs(doc.contacts) do
  redis.call('SET', c.key, c.value)
  redis.call('ZADD', KEYS[1], 'GT', doc.now, c.phone)
  for _, m in ipairs(c.messages) do redis.call('HSET', m[1], unpack(m[2])) end
  if #c.ids > 0 then redis.call('RPUSH', c.list, unpack(c.ids)) end
  if #c.outbox > 0 then redis.call('RPUSH', KEYS[2], unpack(c.outbox)) end
  for _, t in ipairs(c.timers) do redis.call('ZADD', KEYS[3], t[1], t[2]) end
  if #c.events > 0 then
    redis.call('RPUSH', c.log, unpack(c.events))
    redis.call('LTRIM', c.log, -tonumber(ARGV[2]), -1)
  end
  for _, name in ipairs(c.counters) do redis.call('HINCRBY', KEYS[4], name, 1) end
end
for _, c in ipairs(doc.claims) do redis.call('SET', c[1], c[2], 'EX', c[3]) end
redis.call('SET', doc.done, 1, 'EX', 60)
for _, l in ipairs(doc.unlock) do
  if redis.call('GET', l[1]) == l[2] then redis.call('DEL', l[1]) end
end
if doc.flag ~= cjson.null then
  if redis.call('SET', doc.flag[1], 1, 'NX', 'EX', doc.flag[2]) then return {0, 1} end
end
return {0, 0}
