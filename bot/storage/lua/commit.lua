-- Apply the writes of one or more transitions (see Store.commit_many) atomically.
-- The document in ARGV[1] names every key by its position in KEYS:
-- - doc.claims holds [marker, token] for each inbound message the transitions handle: if
--   one was handled already by another attempt, nothing is written; otherwise the markers
--   are set with the writes, so a message counts as handled exactly when its turn is saved.
-- - doc.fence holds [lock, token] for each contact lock the transitions were made under:
--   if one is no longer held (it expired, or a retry took it over), nothing is written,
--   so a transition never overwrites one saved after it was read.
-- - doc.unlock holds [lock, token] for each lock released with the writes.
-- - doc.flag is the drain flag, raised with the writes, or null.
-- - doc.record is the record stream: each contact's c.record (what changed, encoded by
--   the caller) is appended to it in the same step, for the recorder to copy into the
--   record (bot/record/drain.py).
-- - each of doc.contacts names the contact's document, message list, event log and the
--   hashes of its new messages, and carries what goes in them; c.links holds [key, JSON]
--   for each tracked short link in its new messages, kept ARGV[6] seconds.
-- The applied marker keeps this very call in mind for a while: the same call made again
-- after its reply was lost (the script runner retries on a new connection) changes nothing.
-- KEYS[1] contacts index
-- KEYS[2] outbox
-- KEYS[3] timers
-- KEYS[4] analytics counters
-- KEYS[5] this call's applied marker
-- KEYS[6..] the keys the document names: each contact's document, message list, event log
-- and new messages and short links, the handled markers, the locks, the drain flag and the
-- record stream
-- ARGV[1] the document
-- ARGV[2] event log length
-- ARGV[3] how long a handled marker is kept (seconds)
-- ARGV[4] how long this call's applied marker is kept (seconds)
-- ARGV[5] the drain flag's lifetime (seconds)
-- ARGV[6] how long a short link is kept (seconds)
-- Cluster: the contacts' slots, the global queues', counters' and record stream's, and each
-- short link's own (its code's): a link is saved with the message it is in.
-- Saving a turn and queueing what it sends in one step is what makes each inbound message count exactly
-- once and each reply go out exactly once; a timer batch commits several contacts at once
-- to save round trips. On a Cluster all these slots must be served by one node.
-- Answers {COMMITTED|REPEAT|LOCK_LOST, 1 if the drain flag is up because of this call}.
local doc = cjson.decode(ARGV[1])
local function flag_up()
  if doc.flag ~= cjson.null and redis.call('EXISTS', KEYS[doc.flag]) == 1 then return 1 end
  return 0
end
if redis.call('EXISTS', KEYS[5]) == 1 then return {0, flag_up()} end
for _, c in ipairs(doc.claims) do
  local marker = redis.call('GET', KEYS[c[1]])
  if marker then
    -- Our own marker: this very turn was saved and the reply lost on the way back.
    if marker == c[2] then return {0, flag_up()} end
    return {1, 0}
  end
end
for _, f in ipairs(doc.fence) do
  if redis.call('GET', KEYS[f[1]]) ~= f[2] then return {2, 0} end
end
for _, c in ipairs(doc.contacts) do
  redis.call('SET', KEYS[c.key], c.value)
  redis.call('ZADD', KEYS[1], 'GT', doc.now, c.phone)
  for _, m in ipairs(c.messages) do redis.call('HSET', KEYS[m[1]], unpack(m[2])) end
  if #c.ids > 0 then redis.call('RPUSH', KEYS[c.list], unpack(c.ids)) end
  if #c.outbox > 0 then redis.call('RPUSH', KEYS[2], unpack(c.outbox)) end
  for _, t in ipairs(c.timers) do redis.call('ZADD', KEYS[3], t[1], t[2]) end
  if #c.events > 0 then
    redis.call('RPUSH', KEYS[c.log], unpack(c.events))
    redis.call('LTRIM', KEYS[c.log], -tonumber(ARGV[2]), -1)
  end
  for _, name in ipairs(c.counters) do redis.call('HINCRBY', KEYS[4], name, 1) end
  if c.links then
    for _, l in ipairs(c.links) do redis.call('SET', KEYS[l[1]], l[2], 'EX', ARGV[6]) end
  end
  redis.call('XADD', KEYS[doc.record], '*', 'c', c.record)
end
for _, c in ipairs(doc.claims) do redis.call('SET', KEYS[c[1]], c[2], 'EX', ARGV[3]) end
redis.call('SET', KEYS[5], 1, 'EX', ARGV[4])
for _, l in ipairs(doc.unlock) do
  if redis.call('GET', KEYS[l[1]]) == l[2] then redis.call('DEL', KEYS[l[1]]) end
end
if doc.flag ~= cjson.null then
  if redis.call('SET', KEYS[doc.flag], 1, 'NX', 'EX', ARGV[5]) then return {0, 1} end
end
return {0, 0}
