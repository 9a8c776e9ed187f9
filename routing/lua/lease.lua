-- lease.lua: renew a claim's lease, optionally marking it answered.
-- ARGV: prefix, ext, token, lease_ms, mode ('renew' | 'answer')
-- Returns 1, or 0 when the lease is lost (lapsed, or the agent has another claim).
local ext, token, lease, mode = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local a = akey(ext)
local st = redis.call('HGET', a, 'state')
if redis.call('HGET', a, 'claim') ~= token or (st ~= 'ringing' and st ~= 'on_call') then
  return 0
end
if redis.call('GET', lkey(ext)) ~= token then
  -- The lease lapsed but no survivor has taken the call yet: a gateway that
  -- lost Redis for a while gets its live call back instead of a BYE.
  if redis.call('EXISTS', lkey(ext)) == 1 or not redis.call('HGET', a, 'orphan')
      or redis.call('EXISTS', okey(ext)) == 1 then
    return 0
  end
  redis.call('HDEL', a, 'orphan')
  redis.call('ZREM', ORPH, ext)
  redis.call('SET', lkey(ext), token)
end
local now = now_ms()
redis.call('PEXPIRE', lkey(ext), lease)
redis.call('ZADD', BUSY, num(now + lease), ext)
if mode == 'answer' and st == 'ringing' then
  redis.call('HSET', a, 'state', 'on_call', 'answered_at', num(now))
end
return 1
