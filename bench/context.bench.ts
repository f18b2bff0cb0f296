// The core's costs: a getter against a raw AsyncLocalStorage.getStore(), and withTenant
// against a bare als.run around the same async function. Paired rounds in alternating order,
// ratios within each round (median, min–max); with --instructions also instruction counts
// under callgrind (servers/context-work.ts), which do not move with load.
import { AsyncLocalStorage } from 'node:async_hooks'
import { configureTenancy, createTenancy, getDb, withTenant } from '@tenantry/context'
import {
  cpuMsOnce,
  fmt,
  fmtRatio,
  hasValgrind,
  INSTRUCTIONS,
  load,
  nsOnce,
  pairedRounds,
  scriptInstructions,
  section,
  spread,
  verdict,
} from './lib.ts'

let sink: unknown
const plain = { value: 1 }
const db = { name: 'db' }
configureTenancy({
  tenants: { exists: () => true },
  resources: { db: { create: () => ({ name: 'tenant db' }), eager: true } },
})
const WORK = `${import.meta.dirname}/servers/context-work.ts`
const ROUNDS = 11

section(`getters (ns/op, inside a tenant, warm; Node ${process.version}; ${load()})`)
const N = 1_000_000
// The floor: a raw AsyncLocalStorage of the same shape read inside its own run (the tenancy's
// own is private).
const floorAls = new AsyncLocalStorage<{ db: object }>()
const sync = {
  module: () => {
    sink = plain.value
  },
  getstore: () => {
    sink = floorAls.getStore()
  },
  getter: () => {
    sink = getDb()
  },
}
const getters = await withTenant('acme', () =>
  floorAls.run({ db }, () =>
    pairedRounds(['getstore', 'getter', 'module'] as const, 'getstore', ROUNDS, (v) => {
      nsOnce(sync[v], N / 10)
      return nsOnce(sync[v], N)
    }),
  ),
)
console.log(`plain module variable: ${fmt(spread(getters.values.module).median)} ns/op`)
console.log(
  `(floor) raw AsyncLocalStorage.getStore(): ${fmt(spread(getters.values.getstore).median)} ns/op`,
)
verdict('getDb() / raw getStore(): time', getters.ratios.getter, { max: 1.5 })

section('withTenant round trip (warm tenant) vs bare als.run, same async function')
const als = new AsyncLocalStorage<{ db: object }>()
const M = 20_000
const body = async () => {
  sink = 1
}
const asyncOnes = {
  'als-run': async () => {
    for (let i = 0; i < M; i++) await als.run({ db }, body)
  },
  // The least any wrapper pays that must see the callback finish (to release what it holds).
  'als-run-then': async () => {
    for (let i = 0; i < M; i++) await als.run({ db }, body).then(identity, rethrow)
  },
  'with-tenant': async () => {
    for (let i = 0; i < M; i++) await withTenant('acme', body)
  },
  // The same tenancy with one onEnter and one onLeave hook: what metrics/auditing hooks cost.
  'with-hooks': async () => {
    for (let i = 0; i < M; i++) await hooked.withTenant('acme', body)
  },
}
let entered = 0
const hooked = createTenancy({
  tenants: { exists: () => true },
  resources: { db: { create: () => ({ name: 'tenant db' }), eager: true } },
})
hooked.onEnter(() => {
  entered++
})
hooked.onLeave(() => {
  entered--
})
for (const fn of Object.values(asyncOnes)) await fn()
// Short rounds, many of them: a neighbour's burst then lands in few rounds, and the median of
// the per-round ratios ignores it. The verdict is on CPU time (not counted while descheduled);
// wall time is printed beside it.
const WT_ROUNDS = 31
const wall: Record<string, number[]> = Object.fromEntries(
  Object.keys(asyncOnes).map((v) => [v, [] as number[]]),
)
const wt = await pairedRounds(
  ['als-run', 'als-run-then', 'with-tenant', 'with-hooks'] as const,
  'als-run',
  WT_ROUNDS,
  async (v) => {
    const t0 = process.hrtime.bigint()
    const cpu = await cpuMsOnce(asyncOnes[v])
    wall[v]!.push(Number(process.hrtime.bigint() - t0) / 1e6)
    return cpu
  },
)
const wallRatio = (v: string) => spread(wall[v]!.map((x, i) => x / wall['als-run']![i]!))
console.log(
  `(floor) als.run(): ${fmt((spread(wt.values['als-run']).median * 1e6) / M)} ns/call CPU, ${fmt((spread(wall['als-run']!).median * 1e6) / M)} ns wall; ${WT_ROUNDS} rounds of ${M} calls`,
)
verdict(
  '  als.run() + one .then() / als.run(): CPU time',
  wt.ratios['als-run-then'],
  { max: 1.6 },
  '×',
  `the least a wrapper that releases pays; wall time ${fmtRatio(wallRatio('als-run-then'))}`,
)
verdict(
  `withTenant / bare als.run, Node ${process.versions.node.split('.')[0]}: CPU time`,
  wt.ratios['with-tenant'],
  { max: 1.6 },
  '×',
  `wall time ${fmtRatio(wallRatio('with-tenant'))}; ${load()}`,
)

// No goal: hooks are opt-in; the goal is that the line above does not move when none is set.
const hooksOver = wt.values['with-hooks'].map((x, i) => x / wt.values['with-tenant'][i]!)
console.log(`withTenant() with onEnter+onLeave / without: ${fmtRatio(spread(hooksOver))}`)
void entered

if (INSTRUCTIONS && hasValgrind()) {
  // 2,000 warm-up calls, then runs of 2,000 and 12,000: with 1,000 and 4,000 the difference still
  // measured the JIT tiering up (withTenant 10,285 instructions instead of 7,335).
  section('instructions per call under callgrind')
  const per = (v: string, small: number, large: number) =>
    scriptInstructions(WORK, [v], small, large)
  const getstore = await per('getstore', 20_000, 120_000)
  const getter = await per('getter', 20_000, 120_000)
  console.log(`(floor) getStore(): ${fmt(getstore)} instructions; getDb(): ${fmt(getter)}`)
  verdict('getDb() / raw getStore(): instructions', getter / getstore, { max: 1.5 })
  const alsRun = await per('als-run', 2_000, 12_000)
  const alsThen = await per('als-run-then', 2_000, 12_000)
  const withT = await per('with-tenant', 2_000, 12_000)
  console.log(
    `(floor) als.run(): ${fmt(alsRun)} instructions; + one .then(): ${fmt(alsThen)} (${fmtRatio(alsThen / alsRun)}); withTenant(): ${fmt(withT)}`,
  )
  verdict(
    `withTenant / bare als.run, Node ${process.versions.node.split('.')[0]}: instructions`,
    withT / alsRun,
    { max: 1.6 },
  )
}
void sink

function identity<T>(v: T): T {
  return v
}
function rethrow(e: unknown): never {
  throw e
}
