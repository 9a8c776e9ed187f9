-- release.lua: end a claim. Idempotent; a stale token changes nothing.
-- ARGV: prefix, ext, token, outcome, wrap_ms, max_misses
-- Returns the agent's new state, or 'stale'.
local ext, token, outcome = ARGV[2], ARGV[3], ARGV[4]
local wrap, maxm = tonumber(ARGV[5]), tonumber(ARGV[6])
local a = akey(ext)
local st = redis.call('HGET', a, 'state')
if redis.call('HGET', a, 'claim') ~= token or (st ~= 'ringing' and st ~= 'on_call') then
  return 'stale'
end
local now = now_ms()
if redis.call('GET', lkey(ext)) == token then redis.call('DEL', lkey(ext)) end
redis.call('DEL', dkey(ext))
redis.call('HDEL', a, 'orphan')
redis.call('ZREM', ORPH, ext)
redis.call('ZREM', BUSY, ext)

if outcome == 'completed' then
  redis.call('HSET', a, 'misses', 0)
  if wrap > 0 and not redis.call('HGET', a, 'pause_pending') then
    redis.call('HDEL', a, 'call', 'gw', 'claim', 'claimed_at')
    redis.call('HSET', a, 'state', 'wrap_up', 'wrap_until', num(now + wrap))
    redis.call('ZADD', WRAP, num(now + wrap), ext)
    return 'wrap_up'
  end
  return make_available(ext, now)
elseif outcome == 'missed' then
  local m = redis.call('HINCRBY', a, 'misses', 1)
  if m >= maxm then
    redis.call('HDEL', a, 'call', 'gw', 'claim', 'claimed_at', 'pause_pending')
    redis.call('HSET', a, 'state', 'paused', 'reason', 'missed_calls')
    return 'paused'
  end
  -- ring-no-answer: back of the idle order, so the caller's next claim
  -- reaches somebody else first
  return make_available(ext, now)
elseif outcome == 'abandoned' then
  -- the caller hung up; the agent did nothing wrong and keeps its place
  return make_available(ext, tonumber(redis.call('HGET', a, 'idle_since')) or now)
end
-- declined, failed: back of the idle order (the caller tries the next agent)
return make_available(ext, now)
