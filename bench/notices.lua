-- wrk script for bench/notices.ts: each request fires the next distinct notice path from the
-- file named by the first script argument, with a desktop Chrome User-Agent. The requests are
-- formatted once, before the load starts, so that wrk spends as little CPU per request as it
-- can; the CPU it used before and after the load is printed for the benchmark's breakdown.
local requests = {}
local count = 0
local next_index = 0

function init(args)
  for line in io.lines(args[1]) do
    count = count + 1
    requests[count] = wrk.format("GET", line, {
      ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    })
  end
  io.write(string.format("cpu seconds before the load: %.3f\n", os.clock()))
end

function request()
  next_index = next_index % count + 1
  return requests[next_index]
end

function done(summary, latency, requests)
  io.write(string.format("cpu seconds at the end: %.3f\n", os.clock()))
end
