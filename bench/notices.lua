-- wrk script for bench/notices.ts: each request fires the next distinct notice path from the
-- file named by the first script argument, with a desktop Chrome User-Agent.
local paths = {}
local count = 0
local next_index = 0

function init(args)
  for line in io.lines(args[1]) do
    count = count + 1
    paths[count] = line
  end
end

function request()
  next_index = next_index % count + 1
  return wrk.format("GET", paths[next_index], {
    ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
  })
end
