// Package routing keeps the human-fallback state in Redis: agents and their
// registration bindings, atomic claims of the longest-idle agent, leases that
// free an agent by themselves when a gateway dies, wrap-up, and a queue of
// waiting callers that is fair across all gateway instances (issue 3).
//
// All state lives in Redis so that several gateways share one pool of agents;
// no decision depends on a timer or clock in this process. Every atomic step
// is one Lua script, and scripts read the clock with Redis TIME.
//
// # Keys
//
// Every key of a pool carries the same hash tag, so that every script's keys
// sit in one slot and the scripts run unchanged on Redis Cluster:
//
//	ivr:{pool}:agents             set    every agent ever seen
//	ivr:{pool}:agent:EXT          hash   state, reason, skills, idle_since, call, gw, claim, misses, ...
//	ivr:{pool}:binding:EXT        hash   contact, source, transport, expires; expires WITH the registration
//	ivr:{pool}:lease:EXT          string claim token, PX LeaseTTL, renewed while the call lives
//	ivr:{pool}:idle, idle:SKILL   zset   available agents scored by idle-since (ms)
//	ivr:{pool}:busy               zset   ringing/on_call agents scored by lease end
//	ivr:{pool}:wrapup             zset   wrap_up agents scored by wrap-up end
//	ivr:{pool}:q:QUEUE            zset   waiting calls, (99-priority)*1e13 + arrival sequence
//	ivr:{pool}:qhb:QUEUE:CALLID   string heartbeat of a waiting call, PX QueueTTL
//	ivr:{pool}:ht:QUEUE           list   the last 50 handle times (ms)
//	ivr:{pool}:events             pub/sub "available EXT" and "left QUEUE"
//	ivr:{pool}:calls:CALLER       zset   a caller's recent call ids by start (ms), at most 32, PX the repeat window
//	ivr:{pool}:lastagent:CALLER   string the agent who last answered CALLER, PX the repeat window
//
// CALLER is the caller's number, or its keyed hash when the gateway masks
// numbers (-mask-callers): then no number is stored in Redis.
//
// Each script is sent with KEYS[1] = ivr:{pool}:agents, which routes it to the
// slot's node; the other keys it builds from the same tagged prefix. Redis
// Cluster accepts such undeclared keys because they hash to the declared slot.
//
// routing is the only package that imports go-redis. It must not import
// sipgo, pion or any other package of this module.
package routing
