-- Let a contact's oldest messages leave Redis once the record holds them.
-- Walks the message list from its oldest end, removing each message named in ARGV (in
-- list order) until the list is down to ARGV[1] or a message is still being sent
-- (pending, submitting or deferred till later: the sender needs its hash), which stops
-- the walk.
-- KEYS[1] the contact's message list
-- KEYS[2..] the hashes of the messages ARGV[2..] names, oldest first
-- ARGV[1] how many messages to keep
-- ARGV[2..] the ids of the oldest messages, as the caller read them
-- Answers how many messages left.
local keep = tonumber(ARGV[1])
local removed = 0
for i = 2, #ARGV do
  if redis.call('LLEN', KEYS[1]) <= keep then break end
  if redis.call('LINDEX', KEYS[1], 0) ~= ARGV[i] then break end
  local status = redis.call('HGET', KEYS[i], 'status')
  if status == 'pending' or status == 'submitting' or status == 'deferred' then break end
  redis.call('DEL', KEYS[i])
  redis.call('LPOP', KEYS[1])
  removed = removed + 1
end
return removed
