-- Take a lease, or keep the one we hold: one process at a time does what it guards.
-- KEYS[1] the lease
-- ARGV[1] our token
-- ARGV[2] how long the lease lasts unless kept (milliseconds)
-- Answers 1 when we hold it, 0 when another process does.
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
