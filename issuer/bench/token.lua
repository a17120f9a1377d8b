-- wrk script for issuer/bench/bench.sh: a grant at the token endpoint, client_secret_basic, over
-- keep-alive connections. Arguments (after `--`): the Authorization header value ("Basic ..."), then
-- optionally the form body (default `grant_type=client_credentials`; the token exchange row passes
-- `grant_type=urn:ietf:params:oauth:grant-type:token-exchange&subject_token=...`, the same subject
-- token on every request).
--
-- Every response must be 200: the others are counted (per thread, added up in done()) and the
-- script reports them with the latency percentiles on one line wrk's caller parses:
--   issuer-bench: requests=<n> duration_us=<n> non200=<n> first_bad=<status> p50_us=<n> p90_us=<n> p99_us=<n> max_us=<n>
-- (wrk's own "Non-2xx or 3xx" count misses a 201 or a 302; this does not.)

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  if args[1] == nil then
    error("token.lua: pass the Authorization header value after --")
  end
  wrk.method = "POST"
  wrk.body = args[2] or "grant_type=client_credentials"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Authorization"] = args[1]
  non200 = 0
  first_bad = 0
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
    if first_bad == 0 then first_bad = status end
  end
end

function done(summary, latency, requests)
  local bad, first = 0, 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non200")
    if first == 0 then first = thread:get("first_bad") end
  end
  io.write(string.format(
    "issuer-bench: requests=%d duration_us=%d non200=%d first_bad=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, bad, first, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
