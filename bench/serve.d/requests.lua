-- bench/serve.d/requests.lua: the wrk script of bench/serve.
--
--   wrk ... -s bench/serve.d/requests.lua URL -- users FILE [K]   GET /v1/users/{id}/recommendations?k=K
--                                                                 with a uniformly random id from
--                                                                 FILE (one id a line) per request
--   wrk ... -s bench/serve.d/requests.lua URL -- path PATH        GET PATH on every request
--
-- With RECSYS_BENCH_DELAY_MAX_MS=D in the environment, each connection waits a uniformly random
-- 0..D ms before each request (wrk's delay()), which holds the offered rate near
-- connections / (D/2 ms + latency): bench/serve's fixed-rate run (Debian's wrk has no -R).
--
-- Paths are built once per thread in init(); request() only picks one. done() prints one line
-- that bench/serve parses:
--   RESULT requests=N seconds=S rps=R p50_ms=.. p90_ms=.. p99_ms=.. p999_ms=.. max_ms=..
--          mean_ms=.. bytes=B non2xx=N socket_errors=N connect=N read=N write=N timeout=N
-- (wrk counts a response with a status above 399 in errors.status; socket_errors is connect +
-- read + write + timeout).

local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_index", counter)
end

local paths = {}
local count = 0

local function encode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function init(args)
  local mode = args[1]
  if mode == "users" then
    local k = args[3] or "10"
    local f = assert(io.open(args[2], "r"), "cannot open user id file " .. tostring(args[2]))
    for line in f:lines() do
      if #line > 0 then
        count = count + 1
        paths[count] = "/v1/users/" .. encode(line) .. "/recommendations?k=" .. k
      end
    end
    f:close()
    assert(count > 0, "no user ids in " .. args[2])
  elseif mode == "path" then
    count = 1
    paths[1] = args[2]
  else
    error("usage: -- users FILE [K] | -- path PATH")
  end
  local index = thread_index or 0
  math.randomseed(os.time() * 1000 + index * 7919)
  for _ = 1, 10 do math.random() end
end

local delay_max = tonumber(os.getenv("RECSYS_BENCH_DELAY_MAX_MS") or "")
if delay_max and delay_max > 0 then
  -- Defined only in that mode: wrk waits on a timer before every request when delay exists.
  function delay()
    return math.random(0, delay_max)
  end
end

function request()
  if count == 1 then return wrk.format(nil, paths[1]) end
  return wrk.format(nil, paths[math.random(count)])
end

function done(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  local ms = function(us) return us / 1000.0 end
  io.write(string.format(
    "RESULT requests=%d seconds=%.3f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f " ..
    "p999_ms=%.3f max_ms=%.3f mean_ms=%.3f bytes=%d non2xx=%d socket_errors=%d " ..
    "connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, seconds, summary.requests / seconds,
    ms(latency:percentile(50)), ms(latency:percentile(90)), ms(latency:percentile(99)),
    ms(latency:percentile(99.9)), ms(latency.max), ms(latency.mean), summary.bytes,
    e.status, e.connect + e.read + e.write + e.timeout,
    e.connect, e.read, e.write, e.timeout))
end
