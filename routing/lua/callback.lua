-- callback.lua: callbacks that keep the caller's place in the queue.
-- ARGV: prefix, op, call_id, then per op:
--   book: queue, ttl_ms, then field, value pairs (number, lang, ...)
--         -> position in the queue, or -1 when the call is not queued
--   due: (call_id ignored) max -> {call_id, queue, ...} of queued callbacks at the head of their queue
--   renew: gateway_id, lease_ms -> 1 while the gateway owns the callback, else 0
--   requeue: gateway_id -> 1 (back at the head of its queue; the agent did not answer)
--   retry: gateway_id, delay_ms, max_tries -> {'retry'|'abandoned', tries}
--   finish: (none) -> 1 if it existed
--   sweep: (call_id ignored) lease_ms, max -> {expired call_ids...}
-- States: queued (in the queue, waiting its turn), dialing (claimed by
-- owner, whose ownership lapses at owner_until), waiting (out of the queue
-- until not_before, between tries).
local op, call = ARGV[2], ARGV[3]
local now = now_ms()

-- back_at_head puts a callback in front of its queue (priority 99, like a
-- caller whose agent did not answer: they were the head) for the rest of
-- its life.
local function back_at_head(id)
  local k = cbkey(id)
  local q = redis.call('HGET', k, 'queue')
  local ttl = redis.call('PTTL', k)
  if not q or ttl <= 0 then return false end
  if not redis.call('ZSCORE', qkey(q), id) then
    local seq = redis.call('INCR', P .. 'qseq')
    redis.call('ZADD', qkey(q), num(seq), id)
  end
  redis.call('SET', hbkey(q, id), 'callback', 'PX', ttl)
  redis.call('HSET', k, 'state', 'queued', 'owner', '', 'owner_until', '0')
  redis.call('PUBLISH', EVENTS, 'callback ' .. q)
  return true
end

if op == 'book' then
  local q, ttl = ARGV[4], tonumber(ARGV[5])
  if not redis.call('ZSCORE', qkey(q), call) or redis.call('EXISTS', hbkey(q, call)) == 0 then
    return -1
  end
  local k = cbkey(call)
  redis.call('DEL', k)
  redis.call('HSET', k, 'queue', q, 'state', 'queued', 'tries', '0', 'booked', num(now),
    'owner', '', 'owner_until', '0', 'not_before', '0')
  for i = 6, #ARGV, 2 do redis.call('HSET', k, ARGV[i], ARGV[i + 1] or '') end
  redis.call('PEXPIRE', k, ttl)
  redis.call('SET', hbkey(q, call), 'callback', 'PX', ttl)
  redis.call('ZADD', CBS, num(now), call)
  return position(q, call)
elseif op == 'due' then
  local out = {}
  for _, id in ipairs(redis.call('ZRANGE', CBS, 0, tonumber(ARGV[4]) - 1)) do
    local r = redis.call('HMGET', cbkey(id), 'state', 'queue')
    if r[1] == 'queued' and r[2] and position(r[2], id) == 1 then
      out[#out + 1] = id
      out[#out + 1] = r[2]
    end
  end
  return out
elseif op == 'renew' then
  local gw, lease = ARGV[4], tonumber(ARGV[5])
  if redis.call('HGET', cbkey(call), 'owner') ~= gw then return 0 end
  redis.call('HSET', cbkey(call), 'owner_until', num(now + lease))
  return 1
elseif op == 'requeue' then
  if redis.call('HGET', cbkey(call), 'owner') ~= ARGV[4] then return 0 end
  if back_at_head(call) then return 1 end
  return 0
elseif op == 'retry' then
  local k = cbkey(call)
  local gw, delay, maxt = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
  if redis.call('EXISTS', k) == 0 or redis.call('HGET', k, 'owner') ~= gw then return {'gone', 0} end
  local tries = redis.call('HINCRBY', k, 'tries', 1)
  if tries >= maxt then
    redis.call('DEL', k)
    redis.call('ZREM', CBS, call)
    return {'abandoned', tries}
  end
  redis.call('HSET', k, 'state', 'waiting', 'owner', '', 'owner_until', '0', 'not_before', num(now + delay))
  return {'retry', tries}
elseif op == 'finish' then
  local q = redis.call('HGET', cbkey(call), 'queue')
  local n = redis.call('DEL', cbkey(call))
  redis.call('ZREM', CBS, call)
  if q then
    redis.call('DEL', hbkey(q, call))
    if redis.call('ZREM', qkey(q), call) == 1 then redis.call('PUBLISH', EVENTS, 'left ' .. q) end
  end
  return n
elseif op == 'sweep' then
  local expired = {}
  for _, id in ipairs(redis.call('ZRANGE', CBS, 0, tonumber(ARGV[5]) - 1)) do
    local r = redis.call('HMGET', cbkey(id), 'state', 'queue', 'not_before', 'owner_until')
    local st, q = r[1], r[2]
    if not st then
      -- lived its whole time without reaching anyone: abandoned
      redis.call('ZREM', CBS, id)
      expired[#expired + 1] = id
    elseif st == 'waiting' and tonumber(r[3] or '0') <= now then
      back_at_head(id)
    elseif st == 'dialing' and tonumber(r[4] or '0') < now then
      back_at_head(id) -- its gateway died mid-callback: the next one calls
    elseif st == 'queued' and (not redis.call('ZSCORE', qkey(q), id) or redis.call('EXISTS', hbkey(q, id)) == 0) then
      back_at_head(id)
    end
  end
  return expired
end
return redis.error_reply('unknown op ' .. op)
