-- queue.lua: the waiting-caller queue of one name.
-- ARGV: prefix, op, queue, call_id, then per op:
--   enqueue: priority (0..99, higher first), gateway_id, hb_ttl_ms
--   position: hb_ttl_ms (doubles as the caller's heartbeat)
--   leave: (none)
-- Returns the caller's 1-based position, -1 when not queued, or 0 for leave.
local op, q, call = ARGV[2], ARGV[3], ARGV[4]
if op == 'enqueue' then
  local prio, gw, hbttl = tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])
  if not redis.call('ZSCORE', qkey(q), call) then
    -- Higher priority first, then arrival order. Arrival is a server-side
    -- sequence: scripts run one at a time, so it IS the enqueue order across
    -- all gateways, and unlike a TIME stamp it never ties within a millisecond.
    local seq = redis.call('INCR', P .. 'qseq')
    redis.call('ZADD', qkey(q), num((99 - prio) * 1e13 + seq), call)
  end
  if not is_callback(call) then
    redis.call('SET', hbkey(q, call), gw .. ' ' .. num(now_ms()), 'PX', hbttl)
  end
  return position(q, call)
elseif op == 'position' then
  local pos = position(q, call)
  -- a booked callback's entry lives as long as the callback, not a heartbeat
  if pos > 0 and not is_callback(call) then redis.call('PEXPIRE', hbkey(q, call), tonumber(ARGV[5])) end
  return pos
elseif op == 'leave' then
  -- the caller's own gateway leaving after booking a callback: the entry stays
  if is_callback(call) then return 0 end
  redis.call('DEL', hbkey(q, call))
  if redis.call('ZREM', qkey(q), call) == 1 then
    redis.call('PUBLISH', EVENTS, 'left ' .. q)
  end
  return 0
end
return redis.error_reply('unknown op ' .. op)
