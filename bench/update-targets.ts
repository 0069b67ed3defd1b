import { closeSync, openSync, writeSync } from 'node:fs';
import type { DeviceType, SoftwareType } from '../src/domain/enums.js';
import { demoSoftwareVersions, deviceFamily, softwareTypesOf } from '../src/seed/demo-tables.js';
import { SeededRandom } from '../src/seed/seeded-random.js';
import type { DeviceKey } from './bench-workspace.js';

/** One distinct updateSoftware request: a device, one software type it runs, the newest demo version. */
export interface UpdateTarget {
  deviceId: string;
  softwareType: SoftwareType;
  version: string;
}

const softwareTypeOrder: SoftwareType[] = ['teamsClient', 'operatingSystem', 'adminAgent', 'firmware', 'partnerAgent', 'companyPortal'];

/**
 * Every distinct (device, softwareType) updateSoftware request the seeded devices allow, in
 * a random order fixed by `seed`: a real fleet's updates do not come in id order, and rows
 * added to the indexes that start with the device land on pages far apart, as they would.
 * No two targets are the same pair, so none may get a 409.
 */
export function shuffledUpdateTargets(keys: DeviceKey[], seed: number): UpdateTarget[] {
  const targets: UpdateTarget[] = [];
  for (const key of keys) {
    const family = deviceFamily(key.deviceType as DeviceType);
    const runs = softwareTypesOf(key.deviceType as DeviceType);
    for (const softwareType of softwareTypeOrder) {
      if (!runs.includes(softwareType)) continue;
      const versions = demoSoftwareVersions[softwareType][family];
      targets.push({ deviceId: key.id, softwareType, version: versions[versions.length - 1] });
    }
  }
  const random = new SeededRandom(seed);
  for (let i = targets.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    [targets[i], targets[j]] = [targets[j], targets[i]];
  }
  return targets;
}

/**
 * Writes the targets as fixed-width lines `<deviceId> <softwareType> <version>` (space-padded),
 * so the wrk script can start at any index with one seek and read one line per request,
 * instead of loading hundreds of thousands of requests into a Lua table every round.
 */
export function writeTargetFile(path: string, targets: UpdateTarget[]): { width: number; count: number } {
  const lines = targets.map((t) => `${t.deviceId} ${t.softwareType} ${t.version}`);
  // A loop, not Math.max(...lines): hundreds of thousands of arguments overflow the stack.
  let width = 0;
  for (const line of lines) width = Math.max(width, Buffer.byteLength(line) + 1);
  const fd = openSync(path, 'w');
  try {
    const perChunk = 10_000;
    for (let start = 0; start < lines.length; start += perChunk) {
      const chunk = lines.slice(start, start + perChunk).map((line) => line.padEnd(width - 1) + '\n').join('');
      writeSync(fd, chunk);
    }
  } finally {
    closeSync(fd);
  }
  return { width, count: lines.length };
}

/**
 * The wrk script (`wrk -s`, one thread) that hands out the targets of a target file in order,
 * each once, starting at an index; `wrk … -- <file> <start> <width> <path prefix>`. At the end
 * it prints `NEXT <index>` (where the next run starts: every target handed out so far, those
 * still in flight when wrk stopped included), `WRAPPED <n>` (times it ran out and started
 * again: later requests repeat, so a real server answers them 409) and `CPU <seconds>` (wrk's
 * own CPU time, all threads, from clock()).
 */
export const updateTargetsScript = `
local file, width, prefix, count, head
nextIndex = 0
wrapped = 0

function init(args)
  file = assert(io.open(args[1], "rb"))
  nextIndex = tonumber(args[2])
  width = tonumber(args[3])
  prefix = args[4]
  count = file:seek("end") / width
  file:seek("set", nextIndex * width)
  local lines = {}
  local host = false
  for name, value in pairs(wrk.headers) do
    if name:lower() == "host" then host = true end
    lines[#lines + 1] = name .. ": " .. value .. "\\r\\n"
  end
  if not host then lines[#lines + 1] = "Host: " .. wrk.host .. "\\r\\n" end
  head = table.concat(lines)
end

function request()
  if nextIndex >= count then
    nextIndex = 0
    wrapped = wrapped + 1
    file:seek("set", 0)
  end
  local line = file:read(width)
  nextIndex = nextIndex + 1
  local id, softwareType, version = line:match("^(%S+) (%S+) (%S+)")
  local body = '{"softwareType":"' .. softwareType .. '","softwareVersion":"' .. version .. '"}'
  return "POST " .. prefix .. id .. "/updateSoftware HTTP/1.1\\r\\n" .. head .. "Content-Length: " .. #body .. "\\r\\n\\r\\n" .. body
end

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    io.write("NEXT " .. thread:get("nextIndex") .. "\\n")
    io.write("WRAPPED " .. thread:get("wrapped") .. "\\n")
  end
  io.write("CPU " .. os.clock() .. "\\n")
end
`;
