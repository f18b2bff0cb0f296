// Hello world over HTTP: bare Fastify, the floor (a hand-written ALS onRequest hook),
// @fastify/request-context and @tenantry/fastify, each server in its own process pinned to one
// core, autocannon pinned to the other. Paired rounds in alternating order; each ratio is taken
// within a round and reported as median (min–max). With --instructions, each server also runs
// under callgrind and the instructions per request are compared (they do not move with load),
// with the price of each guarantee. TENANTRY_BENCH_NODE=/path/to/node runs the servers on
// another Node (the load generator stays on this one).
import { spawnSync } from 'node:child_process'
import autocannon from 'autocannon'
import {
  fmt,
  fmtRatio,
  hasValgrind,
  INSTRUCTIONS,
  load,
  pairedRounds,
  pinLoadGenerator,
  type Server,
  STEADY_STATE,
  section,
  sequentialRequests,
  serverInstructions,
  spread,
  startServer,
  verdict,
} from './lib.ts'

const VARIANTS = ['bare', 'als-hook', 'request-context', 'tenantry'] as const
type Variant = (typeof VARIANTS)[number]
const SERVER = `${import.meta.dirname}/servers/hello.ts`
const SECONDS = Number(process.env.BENCH_FASTIFY_SECONDS ?? 3)
const ROUNDS = Number(process.env.BENCH_FASTIFY_ROUNDS ?? 5)
const CONNECTIONS = 10
const HOST = 'acme.localhost'
// TENANTRY_BENCH_NODE: another Node binary for the servers (e.g. Node 24, where
// AsyncLocalStorage runs on AsyncContextFrame instead of promise hooks).
const NODE = process.env.TENANTRY_BENCH_NODE || undefined
const NODE_VERSION =
  NODE === undefined ? process.version : spawnSync(NODE, ['-v'], { encoding: 'utf8' }).stdout.trim()
const TAG = NODE === undefined ? '' : ` (Node ${NODE_VERSION})`
const PARALLEL = Number(process.env.BENCH_FASTIFY_PARALLEL ?? 2)

const serverCpu = pinLoadGenerator()
section(
  `hello world over HTTP: ${CONNECTIONS} connections, ${ROUNDS} paired rounds of ${SECONDS} s, alternating order; servers pinned to CPU ${serverCpu ?? '(none)'}; Node ${NODE_VERSION}; ${load()}`,
)
const servers = new Map<Variant, Server>()
for (const v of VARIANTS)
  servers.set(v, await startServer(SERVER, [v], { cpu: serverCpu, node: NODE }))

async function round(v: Variant, seconds: number): Promise<{ rps: number; cpuUs: number }> {
  const server = servers.get(v)!
  const before = await server.cpuUs()
  const r = await autocannon({
    url: `http://127.0.0.1:${server.port}/`,
    headers: { host: HOST },
    connections: CONNECTIONS,
    duration: seconds,
  })
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${v}: ${r.non2xx} non-2xx, ${r.errors} errors`)
  return { rps: r.requests.average, cpuUs: ((await server.cpuUs()) - before) / r.requests.total }
}

try {
  for (const v of VARIANTS) await round(v, 1) // warm-up: JIT, the tenant's cached resource
  const cpu = new Map<string, number>()
  const { values, ratios } = await pairedRounds(VARIANTS, 'bare', ROUNDS, async (v, r) => {
    const x = await round(v, SECONDS)
    cpu.set(`${v}:${r}`, x.cpuUs)
    return x.rps
  })
  const cpuOf = (v: Variant) => Array.from({ length: ROUNDS }, (_, r) => cpu.get(`${v}:${r}`)!)
  const cpuRatio = (a: Variant, b: Variant) => {
    const xa = cpuOf(a)
    const xb = cpuOf(b)
    return xa.map((x, i) => x / xb[i]!)
  }
  for (const v of VARIANTS)
    console.log(
      `  ${v}: ${fmt(Math.min(...values[v]))}–${fmt(Math.max(...values[v]))} req/s, ${fmt(spread(cpuOf(v)).median)} µs server CPU/request; vs bare ${fmtRatio(ratios[v])} req/s, ${fmtRatio(spread(cpuRatio(v, 'bare')))} CPU/request`,
    )
  verdict(`Fastify hello, @tenantry/fastify / bare: throughput${TAG}`, ratios.tenantry, {
    min: 0.95,
  })

  // Instruction goals: counted under callgrind with --instructions; otherwise the server's
  // CPU time per request stands in (it moves with load, instructions do not).
  let per: Record<Variant, number> | undefined
  const count = new Map<string, number>()
  if (INSTRUCTIONS && hasValgrind()) {
    await countInstructions(count)
    per = {} as Record<Variant, number>
    for (const v of VARIANTS) per[v] = count.get(`GET ${v}`)!
  }
  const goals: [string, Variant, number][] = [
    ['bare', 'bare', 1.1],
    ['@fastify/request-context', 'request-context', 0.95],
    ['a hand-written ALS onRequest hook', 'als-hook', 1.05],
  ]
  for (const [label, base, max] of goals) {
    const row = `Fastify hello, @tenantry/fastify / ${label}: instructions${TAG}`
    if (per !== undefined) verdict(row, per.tenantry / per[base], { max })
    else
      verdict(
        row.replace('instructions', 'server CPU time per request'),
        spread(cpuRatio('tenantry', base)),
        { max },
        '×',
        'instructions with pnpm bench --instructions',
      )
  }
  verdict(
    `  (floor) ALS onRequest hook / bare: instructions or CPU${TAG}`,
    per ? per['als-hook'] / per.bare : spread(cpuRatio('als-hook', 'bare')),
    { max: 1.1 },
    '×',
    'the context variable alone',
  )
  if (per !== undefined) printPrices(count)
} finally {
  for (const s of servers.values()) await s.stop()
}

// Every count of the run, two servers under callgrind at a time (counts do not move with load):
// GET / of each variant, GET / of the two with one onResponse hook, POST /echo of three.
async function countInstructions(into: Map<string, number>): Promise<void> {
  const body = JSON.stringify({ title: 'hello', tags: ['a', 'b'] })
  const jobs: [string, string[], 'GET' | 'POST'][] = [
    ...VARIANTS.map((v): [string, string[], 'GET'] => [`GET ${v}`, [v], 'GET']),
    ['GET tenantry-tenant', ['tenantry-tenant'], 'GET'],
    ['GET als-hook on-response', ['als-hook', 'on-response'], 'GET'],
    ['GET tenantry on-response', ['tenantry', 'on-response'], 'GET'],
    ...(['bare', 'als-hook', 'tenantry'] as const).map((v): [string, string[], 'POST'] => [
      `POST ${v}`,
      [v],
      'POST',
    ]),
  ]
  let next = 0
  const worker = async () => {
    while (next < jobs.length) {
      const [key, args, method] = jobs[next++]!
      const request =
        method === 'GET' ? { host: HOST } : { host: HOST, method, path: '/echo', body }
      const n = await serverInstructions(
        SERVER,
        args,
        (port, count) => sequentialRequests(port, count, request),
        STEADY_STATE,
        NODE,
      )
      into.set(key, n)
      console.log(`  ${key}: ${Math.round(n / 1000)}k instructions/request`)
    }
  }
  await Promise.all(Array.from({ length: PARALLEL }, worker))
}

// The price of each guarantee, in instructions per request: differences between servers that
// differ in one thing (see servers/hello.ts).
function printPrices(c: Map<string, number>): void {
  const at = (key: string) => c.get(key)!
  const abs = (n: number) => `${Math.round(n / 1000)}k`
  const k = (n: number) => `${n >= 0 ? '+' : ''}${abs(n)}`
  section(`price of each guarantee (instructions per request, under callgrind${TAG})`)
  console.log(
    `context in the handler (a bare ALS hook over bare Fastify): ${k(at('GET als-hook') - at('GET bare'))}`,
  )
  console.log(
    `the tenant scope (resolve, name rule, tenant source, scope, released at the response's close, abort and timeout hooks; GET, tenant name only, over the ALS hook): ${k(at('GET tenantry-tenant') - at('GET als-hook'))}`,
  )
  console.log(
    `one tenant resource read and held until the response closes (GET): ${k(at('GET tenantry') - at('GET tenantry-tenant'))}`,
  )
  const floorHook = at('GET als-hook on-response') - at('GET als-hook')
  const ourHook = at('GET tenantry on-response') - at('GET tenantry')
  console.log(
    `one onResponse hook: ${k(floorHook)} on the ALS hook (where it may run outside the context), ${k(ourHook)} with tenantry (in the tenant, scope held until it ends): the guarantee ${k(ourHook - floorHook)}`,
  )
  console.log(
    `context after body parsing (POST over GET, tenantry minus the ALS hook, which loses the context there): ${k(at('POST tenantry') - at('POST als-hook') - (at('GET tenantry') - at('GET als-hook')))}`,
  )
  console.log(
    `POST /echo: bare ${abs(at('POST bare'))}, ALS hook ${abs(at('POST als-hook'))}, tenantry ${abs(at('POST tenantry'))}`,
  )
}
