// The workloads of context.bench.ts, for instruction counts under callgrind:
// `node context-work.ts <variant> <count>` runs one variant `count` times (after a warm-up).
import { AsyncLocalStorage } from 'node:async_hooks'
import { configureTenancy, getDb, withTenant } from '@tenantry/context'

const [variant, countText] = process.argv.slice(2) as [string, string]
const count = Number(countText)
let sink: unknown
configureTenancy({
  tenants: { exists: () => true },
  resources: { db: { create: () => ({ name: 'tenant db' }), eager: true } },
})
const als = new AsyncLocalStorage<{ db: object }>()
const db = { name: 'db' }
const floorAls = new AsyncLocalStorage<{ db: object }>() // the tenancy's own is private
const body = async () => {
  sink = 1
}

const sync: Record<string, () => void> = {
  getstore: () => {
    sink = floorAls.getStore()
  },
  getter: () => {
    sink = getDb()
  },
}
const asyncOnes: Record<string, () => Promise<unknown>> = {
  'als-run': () => als.run({ db }, body),
  'als-run-then': () => als.run({ db }, body).then(identity, rethrow),
  'with-tenant': () => withTenant('acme', body),
}

await withTenant('acme', () =>
  floorAls.run({ db }, () => {
    const fn = sync[variant]
    if (fn !== undefined) for (let i = 0; i < 20_000 + count; i++) fn()
  }),
)
const run = asyncOnes[variant]
if (run !== undefined) for (let i = 0; i < 2_000 + count; i++) await run()
void sink

function identity<T>(v: T): T {
  return v
}
function rethrow(e: unknown): never {
  throw e
}
