-- repeat.lua: one caller's recent calls and the agent who last spoke with them.
-- ARGV: prefix, op, caller (the number, or its keyed hash), then per op:
--   call: call_id, window_ms, keep -> {calls within the window (this one included), last agent or ''}
--   agent: ext, window_ms -> 1
-- Both keys live for the window after their last write, and the calls zset
-- holds at most keep entries: a number's history is bounded in size and time.
local op, who = ARGV[2], ARGV[3]
local calls = P .. 'calls:' .. who      -- zset: call ids scored by start (ms)
local last = P .. 'lastagent:' .. who   -- string: extension
if op == 'call' then
  local call, win, keep = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
  local now = now_ms()
  redis.call('ZREMRANGEBYSCORE', calls, '-inf', num(now - win))
  redis.call('ZADD', calls, num(now), call)
  redis.call('ZREMRANGEBYRANK', calls, 0, -(keep + 1))
  redis.call('PEXPIRE', calls, win)
  return {redis.call('ZCARD', calls), redis.call('GET', last) or ''}
elseif op == 'agent' then
  redis.call('SET', last, ARGV[4], 'PX', tonumber(ARGV[5]))
  return 1
end
return redis.error_reply('unknown op ' .. op)
