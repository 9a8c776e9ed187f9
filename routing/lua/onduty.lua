-- onduty.lua: count agents on duty (available, ringing, on_call, wrap_up)
-- having a skill ('' = any). ARGV: prefix, skill.
local skill = ARGV[2]
local n = 0
for _, ext in ipairs(redis.call('SMEMBERS', AGENTS)) do
  local st = redis.call('HGET', akey(ext), 'state')
  if st == 'available' or st == 'ringing' or st == 'on_call' or st == 'wrap_up' then
    local ok = skill == ''
    if not ok then
      for _, sk in ipairs(skills_of(ext)) do
        if sk == skill then ok = true end
      end
    end
    if ok then n = n + 1 end
  end
end
return n
