import { createTenancy } from '@tenantry/context'
import { createTenantDatabases } from '@tenantry/sqlite'
import { tempDir } from '@tenantry/test-utils'
import { afterEach, expect, test } from 'vitest'
import { attachRealtime } from '../src/index.js'
import { connect, makeServer, waitFor } from './helpers.js'

const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
})

/** A real SQLite store with two tenants, installed on its own tenancy, and a hub on a server. */
async function setup(attach: boolean) {
  const tenancy = createTenancy()
  const store = createTenantDatabases({
    root: tempDir(),
    migrations: {},
    tenancy,
    // Short, so the unattached case fails fast; the attached one never waits for it.
    releaseTimeoutMs: 1000,
  }).install(tenancy)
  cleanup.push(() => store.close())
  await store.createTenant('acme')
  await store.createTenant('globex')
  const { app, hub, ws } = await makeServer(tenancy, (app, hub) =>
    hub.websocket(app, '/t/:tenant/live', (conn) => conn.subscribe('feed')),
  )
  cleanup.push(() => app.close())
  if (attach) attachRealtime(store, hub)
  return { store, hub, ws }
}

test('destroyTenant closes the tenant’s live connections first (4410), and only that tenant’s', async () => {
  const { store, hub, ws } = await setup(true)
  const acme = [await connect(`${ws}/t/acme/live`), await connect(`${ws}/t/acme/live`)]
  const globex = await connect(`${ws}/t/globex/live`)
  await waitFor(() => hub.connectionCount('acme') === 2 && hub.connectionCount('globex') === 1)
  await store.destroyTenant('acme') // would wait for the open scopes without the listener
  for (const c of acme) expect((await c.closed).code).toBe(4410)
  expect(await store.exists('acme')).toBe(false)
  expect(hub.connectionCount('globex')).toBe(1)
  expect(globex.socket.readyState).toBe(globex.socket.OPEN)
  globex.socket.close()
})

test('without attachRealtime an open connection holds the tenant: destroy fails, nothing deleted', async () => {
  const { store, hub, ws } = await setup(false)
  const client = await connect(`${ws}/t/acme/live`)
  await waitFor(() => hub.connectionCount('acme') === 1)
  const error = await store.destroyTenant('acme').catch((e: unknown) => e)
  expect((error as { code?: string }).code).toBe('TENANTRY_TENANT_IN_USE')
  expect(await store.exists('acme')).toBe(true)
  client.socket.close()
})

test('a soft delete closes the tenant’s live connections too (on `deleting`); undone, it serves again', async () => {
  const { store, hub, ws } = await setup(true)
  const acme = await connect(`${ws}/t/acme/live`)
  await waitFor(() => hub.connectionCount('acme') === 1)
  await store.destroyTenant('acme', { graceMs: 3_600_000 })
  expect((await acme.closed).code).toBe(4410)
  expect(await store.exists('acme')).toBe(false)
  await store.undestroyTenant('acme')
  const again = await connect(`${ws}/t/acme/live`)
  await waitFor(() => hub.connectionCount('acme') === 1)
  again.socket.close()
})
