-- orphans.lua: the calls of dead gateways.
-- ARGV: prefix, op, ...
--   op 'save', ext, token, data, ttl_ms: keep both legs' dialogs of the
--     claim's bridged call (only while it is the agent's claim). Returns 1 or 0.
--   op 'take', gateway, lock_ms, limit: lock up to limit orphans whose grace
--     is over for this gateway; returns {ext, token, call, data, ...}.
--   op 'done', ext, token: the survivor has hung up both legs: free the
--     agent (back of the idle order). Returns the new state, or 'stale'.
local op = ARGV[2]
if op == 'save' then
  local ext, token = ARGV[3], ARGV[4]
  if redis.call('HGET', akey(ext), 'claim') ~= token then return 0 end
  redis.call('SET', dkey(ext), ARGV[5], 'PX', ARGV[6])
  return 1
elseif op == 'take' then
  local now = now_ms()
  local out = {}
  for _, ext in ipairs(redis.call('ZRANGEBYSCORE', ORPH, '-inf', num(now), 'LIMIT', 0, tonumber(ARGV[5]))) do
    local a = akey(ext)
    local data = redis.call('GET', dkey(ext))
    local tok = redis.call('HGET', a, 'claim')
    if not data or not tok or not redis.call('HGET', a, 'orphan') then
      redis.call('ZREM', ORPH, ext) -- settled meanwhile
    elseif redis.call('SET', okey(ext), ARGV[3], 'PX', ARGV[4], 'NX') then
      out[#out + 1] = ext
      out[#out + 1] = tok
      out[#out + 1] = redis.call('HGET', a, 'call') or ''
      out[#out + 1] = data
    end
  end
  return out
elseif op == 'done' then
  local ext, token = ARGV[3], ARGV[4]
  local a = akey(ext)
  if redis.call('HGET', a, 'claim') ~= token or not redis.call('HGET', a, 'orphan') then
    return 'stale'
  end
  redis.call('DEL', dkey(ext), okey(ext), lkey(ext))
  redis.call('ZREM', ORPH, ext)
  redis.call('HDEL', a, 'orphan')
  return make_available(ext, now_ms())
end
return redis.error_reply('orphans.lua: unknown op ' .. tostring(op))
