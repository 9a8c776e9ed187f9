package routing

import (
	"embed"

	"github.com/redis/go-redis/v9"
)

//go:embed lua/*.lua
var luaFiles embed.FS

// Each script is lib.lua (shared helpers) followed by its own body, so the
// state transitions are written once. redis.Script runs EVALSHA and falls back
// to EVAL, which also covers a Redis restarted with an empty script cache.
var (
	scriptAgent    = luaScript("agent.lua")
	scriptClaim    = luaScript("claim.lua")
	scriptLease    = luaScript("lease.lua")
	scriptRelease  = luaScript("release.lua")
	scriptSweep    = luaScript("sweep.lua")
	scriptQueue    = luaScript("queue.lua")
	scriptOnDuty   = luaScript("onduty.lua")
	scriptOrphans  = luaScript("orphans.lua")
	scriptRepeat   = luaScript("repeat.lua")
	scriptCallback = luaScript("callback.lua")
)

func luaScript(name string) *redis.Script {
	lib, err := luaFiles.ReadFile("lua/lib.lua")
	if err != nil {
		panic(err) // embedded at build time: cannot happen
	}
	body, err := luaFiles.ReadFile("lua/" + name)
	if err != nil {
		panic(err)
	}
	return redis.NewScript(string(lib) + "\n" + string(body))
}
