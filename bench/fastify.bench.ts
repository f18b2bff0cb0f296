// Hello world over HTTP: bare Fastify, the floor (a hand-written ALS onRequest hook),
// @fastify/request-context and @tenantry/fastify, each server in its own process pinned to one
// core, autocannon pinned to the other. Paired rounds in alternating order; each ratio is taken
// within a round and reported as median (min–max). With --instructions, each server also runs
// under callgrind and the instructions per request are compared (they do not move with load).
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

const serverCpu = pinLoadGenerator()
section(
  `hello world over HTTP: ${CONNECTIONS} connections, ${ROUNDS} paired rounds of ${SECONDS} s, alternating order; servers pinned to CPU ${serverCpu ?? '(none)'}; Node ${process.version}; ${load()}`,
)
const servers = new Map<Variant, Server>()
for (const v of VARIANTS) servers.set(v, await startServer(SERVER, [v], { cpu: serverCpu }))

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
  verdict('Fastify hello, @tenantry/fastify / bare: throughput', ratios.tenantry, { min: 0.95 })

  // Instruction goals: counted under callgrind with --instructions; otherwise the server's
  // CPU time per request stands in (it moves with load, instructions do not).
  let per: Record<Variant, number> | undefined
  if (INSTRUCTIONS && hasValgrind()) {
    per = {} as Record<Variant, number>
    for (const v of VARIANTS) {
      per[v] = await serverInstructions(
        SERVER,
        [v],
        (port, n) => sequentialRequests(port, n, { host: HOST }),
        { warm: 400, small: 100, large: 700 },
      )
      console.log(`  ${v}: ${Math.round(per[v] / 1000)}k instructions/request (GET /)`)
    }
  }
  const goals: [string, Variant, number][] = [
    ['bare', 'bare', 1.1],
    ['@fastify/request-context', 'request-context', 0.95],
    ['a hand-written ALS onRequest hook', 'als-hook', 1.05],
  ]
  for (const [label, base, max] of goals) {
    const row = `Fastify hello, @tenantry/fastify / ${label}: instructions`
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
    '  (floor) ALS onRequest hook / bare: instructions or CPU',
    per ? per['als-hook'] / per.bare : spread(cpuRatio('als-hook', 'bare')),
    { max: 1.1 },
    '×',
    'the context variable alone',
  )

  // The price of each guarantee, in instructions per request (callgrind only).
  if (per !== undefined) {
    section('price of each guarantee (instructions per request, under callgrind)')
    const post = {} as Record<'bare' | 'als-hook' | 'tenantry', number>
    const body = JSON.stringify({ title: 'hello', tags: ['a', 'b'] })
    for (const v of ['bare', 'als-hook', 'tenantry'] as const)
      post[v] = await serverInstructions(
        SERVER,
        [v],
        (port, n) =>
          sequentialRequests(port, n, { host: HOST, method: 'POST', path: '/echo', body }),
        { warm: 400, small: 100, large: 700 },
      )
    const k = (n: number) => `${Math.round(n / 1000)}k`
    console.log(
      `context in the handler (a bare ALS hook over bare Fastify): +${k(per['als-hook'] - per.bare)}`,
    )
    console.log(
      `the tenant scope (resolve, name rule, tenant source, pinned resources, released after onResponse, abort and timeout hooks; GET over the ALS hook): +${k(per.tenantry - per['als-hook'])}`,
    )
    console.log(
      `context after body parsing (POST over GET, tenantry minus the ALS hook, which loses the context there): +${k(post.tenantry - post['als-hook'] - (per.tenantry - per['als-hook']))}`,
    )
    console.log(
      `POST /echo: bare ${k(post.bare)}, ALS hook ${k(post['als-hook'])}, tenantry ${k(post.tenantry)}`,
    )
  }
} finally {
  for (const s of servers.values()) await s.stop()
}
