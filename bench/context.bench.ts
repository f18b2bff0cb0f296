// The core's costs: a getter against a raw AsyncLocalStorage.getStore(), and withTenant
// against a bare als.run around the same async function.
import { AsyncLocalStorage } from 'node:async_hooks'
import { configureTenancy, createTenancy, getDb, withTenant } from '@tenantry/context'
import { compare, figure, msPerRunEach, nsPerOp, nsPerOpPair, section } from './lib.ts'

let sink: unknown
const plain = { value: 1 }
const db = { name: 'db' }
configureTenancy({
  tenants: { exists: () => true },
  resources: { db: { create: () => ({ name: 'tenant db' }), eager: true } },
})

section(`getters (ns/op, inside a tenant, warm; Node ${process.version})`)
const moduleVar = nsPerOp(() => {
  sink = plain.value
})
// The floor: a raw AsyncLocalStorage of the same shape read inside its own run (the tenancy's
// own is private), alternating rounds with the getter.
const floorAls = new AsyncLocalStorage<{ db: object }>()
const [raw = NaN, getter = NaN] = await withTenant('acme', () =>
  floorAls.run({ db }, () =>
    nsPerOpPair(
      () => {
        sink = floorAls.getStore()
      },
      () => {
        sink = getDb()
      },
    ),
  ),
)
figure('plain module variable', moduleVar, 'ns/op')
figure('raw AsyncLocalStorage.getStore()', raw, 'ns/op')
compare('getDb() vs raw getStore()', getter, raw, 'ns/op', { max: 1.5 })

section('withTenant round trip (warm tenant) vs bare als.run, same async function')
const als = new AsyncLocalStorage<{ db: object }>()
const N = 20_000
const body = async () => {
  sink = 1
}
// The same tenancy with one onEnter and one onLeave hook: what metrics/auditing hooks cost.
const hooked = createTenancy({
  tenants: { exists: () => true },
  resources: { db: { create: () => ({ name: 'tenant db' }), eager: true } },
})
let entered = 0
hooked.onEnter(() => {
  entered++
})
hooked.onLeave(() => {
  entered--
})
const [bare = NaN, floor = NaN, tenanted = NaN, withHooks = NaN] = await msPerRunEach([
  async () => {
    for (let i = 0; i < N; i++) await als.run({ db }, body)
  },
  // The least any wrapper pays that must see the callback finish (to release what it holds).
  async () => {
    for (let i = 0; i < N; i++) await als.run({ db }, body).then(identity, rethrow)
  },
  async () => {
    for (let i = 0; i < N; i++) await withTenant('acme', body)
  },
  async () => {
    for (let i = 0; i < N; i++) await hooked.withTenant('acme', body)
  },
])
const perCall = (ms: number) => (ms * 1e6) / N
compare('als.run() + one .then() (floor)', perCall(floor), perCall(bare), 'ns/call')
compare('withTenant() vs als.run()', perCall(tenanted), perCall(bare), 'ns/call', { max: 2 })
// No goal: hooks are opt-in; the goal is that the line above does not move when none is set.
compare(
  'withTenant() with onEnter+onLeave vs without',
  perCall(withHooks),
  perCall(tenanted),
  'ns/call',
)
void sink
void entered

function identity<T>(v: T): T {
  return v
}
function rethrow(e: unknown): never {
  throw e
}
