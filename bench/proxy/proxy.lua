-- wrk script of bench/proxy/run.sh. Everything comes from the environment:
--   WRK_MODE      "proxy": absolute-form requests (GET http://HOST:PORT/PATH HTTP/1.1) to the
--                 proxy given as wrk's URL; "origin": the same request in origin-form
--                 (GET /PATH) straight to the origin given as wrk's URL
--   WRK_HOSTS     origin host name(s), comma-separated (default origin.saring.test); with more
--                 than one, each connection cycles through them (request() per request)
--   WRK_PORT      origin port (in the URL and the Host header)
--   WRK_PATH      default /page.html
--   WRK_DELAY_MS  optional: each connection waits this long (mean, ms; the fraction is
--                 randomised) before each request. wrk 4.1 has no rate limit: this is how
--                 run.sh offers a fixed load (rate ~ connections * 1000 / delay)
--   WRK_TIMELINE  optional, "1": count responses (and those >= 400) per wall-clock second
--                 (os.time(): 1 s resolution); done() prints them as "TL <epoch> <n> <bad>"
-- done() prints one line "RESULT key=value ..." with exact figures (latency in us).

local mode = os.getenv("WRK_MODE") or "proxy"
local port = os.getenv("WRK_PORT") or "80"
local path = os.getenv("WRK_PATH") or "/page.html"
local hosts = {}
for h in string.gmatch(os.getenv("WRK_HOSTS") or "origin.saring.test", "[^,]+") do
  hosts[#hosts + 1] = h
end

local function target(h)
  if mode == "origin" then return path end
  return "http://" .. h .. ":" .. port .. path
end

wrk.method = "GET"
wrk.path = target(hosts[1])
wrk.headers["Host"] = hosts[1] .. ":" .. port
wrk.headers["User-Agent"] = "wrk (saring bench/proxy)"

if #hosts > 1 then
  local reqs, i = {}, 0
  function init(args)
    for k, h in ipairs(hosts) do
      reqs[k] = wrk.format("GET", target(h), {["Host"] = h .. ":" .. port,
                                            ["User-Agent"] = "wrk (saring bench/proxy)"})
    end
    i = math.random(#reqs) - 1
  end
  function request()
    i = i % #reqs + 1
    return reqs[i]
  end
end

local delay_ms = tonumber(os.getenv("WRK_DELAY_MS") or "")
if delay_ms and delay_ms > 0 then
  local whole = math.floor(delay_ms)
  local frac = delay_ms - whole
  function delay()
    if math.random() < frac then return whole + 1 end
    return whole
  end
end

local threads = {}
function setup(thread)
  threads[#threads + 1] = thread
end

if os.getenv("WRK_TIMELINE") == "1" then
  counts, bad = {}, {}
  function response(status, headers, body)
    local s = os.time()
    counts[s] = (counts[s] or 0) + 1
    if status >= 400 then bad[s] = (bad[s] or 0) + 1 end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d rps=%.1f bytes=%d mean_us=%.1f p50_us=%d p90_us=%d " ..
    "p99_us=%d p999_us=%d max_us=%d connect=%d read=%d write=%d timeout=%d status=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    summary.bytes, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max,
    e.connect, e.read, e.write, e.timeout, e.status))
  if os.getenv("WRK_TIMELINE") == "1" then
    local n, b = {}, {}
    for _, t in ipairs(threads) do
      for s, c in pairs(t:get("counts") or {}) do n[s] = (n[s] or 0) + c end
      for s, c in pairs(t:get("bad") or {}) do b[s] = (b[s] or 0) + c end
    end
    local secs = {}
    for s in pairs(n) do secs[#secs + 1] = s end
    table.sort(secs)
    for _, s in ipairs(secs) do io.write(string.format("TL %d %d %d\n", s, n[s], b[s] or 0)) end
  end
end
