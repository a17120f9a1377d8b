-- wrk script for `make bench`: every request carries `authorization: Bearer <token>`, the tokens read
-- from a file (one per line).
--
--   wrk -t1 ... -s envoy/bench/tokens.lua <url> -- <token-file> <cycle|once>
--
-- cycle: go round the tokens in order (64 tokens: the warm runs, a verifier's cache holds them all).
-- once:  each token at most once (cold runs: every request a token the filter has never seen). The
--        list cannot be stopped at its end, so it wraps, and done() reports how many requests were
--        generated against how many tokens there are; bench.sh refuses a cold run that wrapped.
--
-- The requests are formatted before the clock starts (init runs before wrk's timer), so that the
-- per-request work in wrk is the same small table lookup for every configuration.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local file, mode = args[1], args[2]
  if file == nil or (mode ~= "cycle" and mode ~= "once") then
    error("usage: -s tokens.lua <url> -- <token-file> <cycle|once>")
  end
  reqs = {}
  for line in io.lines(file) do
    if #line > 0 then
      reqs[#reqs + 1] = wrk.format(nil, nil, { ["authorization"] = "Bearer " .. line })
    end
  end
  if #reqs == 0 then
    error("no tokens in " .. file)
  end
  tokens = #reqs
  generated = 0
  index = 0
end

function request()
  generated = generated + 1
  index = index + 1
  if index > tokens then
    index = 1
  end
  return reqs[index]
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    io.write(string.format("bench-tokens: generated=%d tokens=%d\n", thread:get("generated"), thread:get("tokens")))
  end
end
