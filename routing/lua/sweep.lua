-- sweep.lua: settle everything due, and drop available agents whose
-- registration lapsed. ARGV: prefix. Returns {wrapups, leases, lapsed}.
local now = now_ms()
local w, l = settle(now, 1000)
local lapsed = 0
for _, ext in ipairs(redis.call('ZRANGE', idlekey(''), 0, -1)) do
  if redis.call('EXISTS', bkey(ext)) == 0 then
    unidle(ext)
    redis.call('HSET', akey(ext), 'state', 'offline')
    lapsed = lapsed + 1
  end
end
return {w, l, lapsed}
