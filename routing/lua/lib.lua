-- lib.lua: prelude shared by every routing script (scripts.go prepends it).
--
-- Cluster safety: KEYS[1] is always the pool's agent set "ivr:{pool}:agents",
-- so Redis Cluster sends the script to the node owning the slot of the {pool}
-- hash tag. Every other key is built from ARGV[1], the prefix "ivr:{pool}:"
-- with the SAME tag, so all keys a script touches hash to that one slot.
local P = ARGV[1]

local AGENTS = P .. 'agents'
local BUSY = P .. 'busy'     -- zset: ringing/on_call agents scored by lease end (ms)
local WRAP = P .. 'wrapup'   -- zset: wrap_up agents scored by wrap-up end (ms)
local EVENTS = P .. 'events' -- pub/sub channel
local ORPH = P .. 'orphans'  -- zset: on_call agents whose gateway died, scored by when a survivor may end the call (ms)
-- A lapsed lease waits this long more before a survivor hangs its call up:
-- room for a gateway that only lost Redis for a while to renew (lease.lua).
local ORPHAN_GRACE_MS = 3000

-- Integers go to Redis as "%.0f": tostring() keeps only 14 digits.
local function num(x) return string.format('%.0f', x) end

-- Server clock, never the client's: every gateway sees one time line.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function akey(ext) return P .. 'agent:' .. ext end
local function bkey(ext) return P .. 'binding:' .. ext end
local function lkey(ext) return P .. 'lease:' .. ext end
local function dkey(ext) return P .. 'dialogs:' .. ext end     -- both legs of the agent's bridged call
local function okey(ext) return P .. 'orphanlock:' .. ext end  -- the survivor ending that call
local function qkey(q) return P .. 'q:' .. q end
local function hbkey(q, call) return P .. 'qhb:' .. q .. ':' .. call end
-- A booked callback: the caller hung up, the queue entry stays (its
-- heartbeat key lives as long as the callback), and this hash says whom to
-- call and who is calling now (callback.lua).
local CBS = P .. 'callbacks' -- zset: booked callbacks scored by booking time (ms)
local function cbkey(call) return P .. 'cb:' .. call end
local function is_callback(call) return redis.call('EXISTS', cbkey(call)) == 1 end
local function idlekey(skill)
  if skill == nil or skill == '' then return P .. 'idle' end
  return P .. 'idle:' .. skill
end

local function skills_of(ext)
  local out = {}
  local s = redis.call('HGET', akey(ext), 'skills')
  if s then
    for sk in string.gmatch(s, '%S+') do out[#out + 1] = sk end
  end
  return out
end

local function unidle(ext)
  redis.call('ZREM', idlekey(''), ext)
  for _, sk in ipairs(skills_of(ext)) do redis.call('ZREM', idlekey(sk), ext) end
end

local function idle(ext, since)
  redis.call('ZADD', idlekey(''), num(since), ext)
  for _, sk in ipairs(skills_of(ext)) do redis.call('ZADD', idlekey(sk), num(since), ext) end
end

-- make_available ends any call or wrap-up bookkeeping and puts the agent into
-- the idle sets at idle_since, unless it asked to pause meanwhile (paused) or
-- its registration lapsed (offline). Announces a free agent on EVENTS.
local function make_available(ext, idle_since)
  local a = akey(ext)
  redis.call('ZREM', BUSY, ext)
  redis.call('ZREM', WRAP, ext)
  redis.call('HDEL', a, 'call', 'gw', 'claim', 'claimed_at', 'wrap_until')
  local pending = redis.call('HGET', a, 'pause_pending')
  if pending then
    redis.call('HDEL', a, 'pause_pending')
    redis.call('HSET', a, 'state', 'paused', 'reason', pending)
    unidle(ext)
    return 'paused'
  end
  if redis.call('EXISTS', bkey(ext)) == 0 then
    redis.call('HSET', a, 'state', 'offline')
    redis.call('HDEL', a, 'reason')
    unidle(ext)
    return 'offline'
  end
  redis.call('HSET', a, 'state', 'available', 'idle_since', num(idle_since))
  redis.call('HDEL', a, 'reason')
  idle(ext, idle_since)
  redis.call('PUBLISH', EVENTS, 'available ' .. ext)
  return 'available'
end

-- settle does, lazily, what no timer in any gateway does: it ends wrap-ups
-- whose time has passed and frees ringing/on_call agents whose lease key is
-- gone (their gateway died or lost Redis for longer than the lease).
local function settle(now, limit)
  local n_wrap, n_lease = 0, 0
  for _, ext in ipairs(redis.call('ZRANGEBYSCORE', WRAP, '-inf', num(now), 'LIMIT', 0, limit)) do
    local a = akey(ext)
    if redis.call('HGET', a, 'state') == 'wrap_up' then
      -- idle since the end of wrap-up, not since the sweep that noticed it
      make_available(ext, tonumber(redis.call('HGET', a, 'wrap_until')) or now)
      n_wrap = n_wrap + 1
    else
      redis.call('ZREM', WRAP, ext)
    end
  end
  for _, ext in ipairs(redis.call('ZRANGEBYSCORE', BUSY, '-inf', num(now), 'LIMIT', 0, limit)) do
    local ttl = redis.call('PTTL', lkey(ext))
    if ttl < 0 then
      local st = redis.call('HGET', akey(ext), 'state')
      if st == 'on_call' and redis.call('EXISTS', dkey(ext)) == 1 then
        -- Bridged when its gateway died: the agent's phone is still in
        -- the call. It stays on_call, offered nothing, until a surviving
        -- gateway has sent BYE to both legs (orphans.lua).
        if not redis.call('HGET', akey(ext), 'orphan') then
          redis.call('HSET', akey(ext), 'orphan', num(now))
          redis.call('ZADD', ORPH, num(now + ORPHAN_GRACE_MS), ext)
        end
        redis.call('ZREM', BUSY, ext)
      elseif st == 'ringing' or st == 'on_call' then
        -- unknown how the call ended: back of the idle order
        make_available(ext, now)
        n_lease = n_lease + 1
      else
        redis.call('ZREM', BUSY, ext)
      end
    else
      -- lease still alive at the boundary: move its score so it cannot
      -- stay in front of the window forever
      redis.call('ZADD', BUSY, num(now + ttl), ext)
    end
  end
  return n_wrap, n_lease
end

-- position returns the 1-based place of call among live callers, pruning dead
-- ones ahead of it, or -1 when the call is not (or no longer) queued.
-- at_head: -1 when call is not queued (or its heartbeat lapsed), 1 when it
-- is the head among live callers, 0 otherwise: the same answer as
-- position() == 1, but only dead callers at the front are dropped, so a
-- claim costs O(log N) however long the queue, where position() checks
-- everyone ahead (a burst of 1,000 callers made each claim walk hundreds).
local function at_head(q, call)
  local k = qkey(q)
  if not redis.call('ZSCORE', k, call) then return -1 end
  if redis.call('EXISTS', hbkey(q, call)) == 0 then
    redis.call('ZREM', k, call)
    redis.call('PUBLISH', EVENTS, 'left ' .. q)
    return -1
  end
  while true do
    local h = redis.call('ZRANGE', k, 0, 0)[1]
    if h == call then return 1 end
    if redis.call('EXISTS', hbkey(q, h)) == 1 then return 0 end
    redis.call('ZREM', k, h)
    redis.call('PUBLISH', EVENTS, 'left ' .. q)
  end
end

local function position(q, call)
  local rank = redis.call('ZRANK', qkey(q), call)
  if not rank then return -1 end
  if redis.call('EXISTS', hbkey(q, call)) == 0 then
    redis.call('ZREM', qkey(q), call)
    redis.call('PUBLISH', EVENTS, 'left ' .. q)
    return -1
  end
  local pos = 1
  if rank == 0 then return pos end
  for _, c in ipairs(redis.call('ZRANGE', qkey(q), 0, rank - 1)) do
    if redis.call('EXISTS', hbkey(q, c)) == 1 then
      pos = pos + 1
    else
      redis.call('ZREM', qkey(q), c)
      redis.call('PUBLISH', EVENTS, 'left ' .. q)
    end
  end
  return pos
end
