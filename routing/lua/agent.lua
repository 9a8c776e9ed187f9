-- agent.lua: agent life cycle outside calls.
-- ARGV: prefix, op, ext, then per op:
--   register: contact, source, transport, expires_ms, ttl_ms
--   unregister | resume: (none)
--   pause: reason
--   skills: space-separated skills
-- Returns the agent's state after the operation ('' when unknown to resume).
local op, ext = ARGV[2], ARGV[3]
local a = akey(ext)
redis.call('SADD', AGENTS, ext)
if redis.call('EXISTS', a) == 0 then
  redis.call('HSET', a, 'state', 'offline', 'misses', 0)
end
local st = redis.call('HGET', a, 'state')
local now = now_ms()

if op == 'register' then
  local b = bkey(ext)
  redis.call('DEL', b)
  redis.call('HSET', b, 'contact', ARGV[4], 'source', ARGV[5], 'transport', ARGV[6], 'expires', ARGV[7])
  redis.call('PEXPIRE', b, tonumber(ARGV[8]))
  -- registered means logged in; a paused agent stays paused
  if st == 'offline' then return make_available(ext, now) end
  return st
elseif op == 'unregister' then
  redis.call('DEL', bkey(ext))
  if st == 'available' or st == 'wrap_up' then
    unidle(ext)
    redis.call('ZREM', WRAP, ext)
    redis.call('HDEL', a, 'wrap_until')
    redis.call('HSET', a, 'state', 'offline')
    return 'offline'
  end
  -- ringing/on_call: the call goes on; release finds no binding -> offline
  return st
elseif op == 'pause' then
  local reason = ARGV[4]
  if st == 'ringing' or st == 'on_call' then
    -- takes effect when this call is released
    redis.call('HSET', a, 'pause_pending', reason)
    return st
  end
  unidle(ext)
  redis.call('ZREM', WRAP, ext)
  redis.call('HDEL', a, 'wrap_until')
  redis.call('HSET', a, 'state', 'paused', 'reason', reason)
  return 'paused'
elseif op == 'resume' then
  redis.call('HDEL', a, 'pause_pending')
  if st ~= 'paused' then return st end
  redis.call('HSET', a, 'misses', 0)
  return make_available(ext, now)
elseif op == 'skills' then
  local was = (st == 'available')
  if was then unidle(ext) end
  redis.call('HSET', a, 'skills', ARGV[4])
  if was then idle(ext, tonumber(redis.call('HGET', a, 'idle_since')) or now) end
  return st
end
return redis.error_reply('unknown op ' .. op)
