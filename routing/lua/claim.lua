-- claim.lua: reserve the longest-idle available agent with a skill, or the
-- preferred agent first when it is free (a repeat caller's last agent).
-- ARGV: prefix, skill, call_id, gateway_id, lease_ms, queue ('' = no queue), hb_ttl_ms,
--       prefer ('' = none)
-- Returns {'ok', ext, token, contact, source, transport, expires_ms},
-- {'none'}, {'nothead'} or {'notqueued'}.
local skill, call, gw = ARGV[2], ARGV[3], ARGV[4]
local lease, queue, hbttl = tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])
local prefer = ARGV[8] or ''
local now = now_ms()
settle(now, 32)

if queue ~= '' then
  -- at_head() drops dead callers at the front: 1 means head among live ones
  local head = at_head(queue, call)
  if head < 0 then return {'notqueued'} end
  if not is_callback(call) then redis.call('PEXPIRE', hbkey(queue, call), hbttl) end
  if head ~= 1 then return {'nothead'} end
end

local z = idlekey(skill)

-- take moves an available, registered agent to ringing for this call. Every
-- path to it checks both, in this one script: never one agent, two calls.
local function take(ext)
  local a = akey(ext)
  local token = tostring(redis.call('INCR', P .. 'claimseq'))
  unidle(ext)
  -- idle_since is kept so an abandoned ring can restore the agent's place
  redis.call('HSET', a, 'state', 'ringing', 'call', call, 'gw', gw,
    'claim', token, 'claimed_at', num(now))
  redis.call('SET', lkey(ext), token, 'PX', lease)
  redis.call('ZADD', BUSY, num(now + lease), ext)
  if queue ~= '' then
    redis.call('ZREM', qkey(queue), call)
    redis.call('DEL', hbkey(queue, call))
    redis.call('PUBLISH', EVENTS, 'left ' .. queue)
    if is_callback(call) then
      -- the claiming gateway now owns the callback for the lease's life;
      -- should it die, callback.lua's sweep queues the callback again
      redis.call('HSET', cbkey(call), 'state', 'dialing', 'owner', gw, 'owner_until', num(now + lease))
    end
  end
  local b = redis.call('HMGET', bkey(ext), 'contact', 'source', 'transport', 'expires')
  return {'ok', ext, token, b[1] or '', b[2] or '', b[3] or '', b[4] or '0'}
end

-- The preferred agent is free when it sits in this skill's idle set (so it
-- has the skill), says available and is registered; else the usual order.
if prefer ~= '' and redis.call('ZSCORE', z, prefer) and
    redis.call('HGET', akey(prefer), 'state') == 'available' and
    redis.call('EXISTS', bkey(prefer)) == 1 then
  return take(prefer)
end

while true do
  local c = redis.call('ZRANGE', z, 0, 0)
  if #c == 0 then return {'none'} end
  local ext = c[1]
  local st = redis.call('HGET', akey(ext), 'state')
  if st == 'available' and redis.call('EXISTS', bkey(ext)) == 1 then
    return take(ext)
  end
  -- registration lapsed (or a stale entry): never offer it, drop it
  unidle(ext)
  if st == 'available' then redis.call('HSET', akey(ext), 'state', 'offline') end
end
