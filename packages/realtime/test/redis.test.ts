import { Redis } from 'ioredis'
import { afterEach, describe, expect, test } from 'vitest'
import { redisBroker } from '../src/index.js'
import { type Client, connect, makeServer, makeTenancy, unique, waitFor } from './helpers.js'

const url = process.env.REDIS_URL
const cleanup: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

function clients() {
  const publisher = new Redis(url!)
  const subscriber = publisher.duplicate()
  cleanup.push(() => {
    publisher.disconnect()
    subscriber.disconnect()
  })
  return { publisher, subscriber }
}

/** One "process": an app with its own hub on the shared Redis, channel from the query. */
async function node(prefix: string) {
  const { tenancy } = makeTenancy()
  const s = await makeServer(
    tenancy,
    (app, hub) =>
      hub.websocket(app, '/t/:tenant/live', (conn, request) =>
        conn.subscribe(new URL(request.url, 'http://x').searchParams.get('channel')!),
      ),
    { broker: redisBroker({ ...clients(), prefix }) },
  )
  cleanup.push(() => s.app.close())
  await s.hub.ready()
  return { ...s, tenancy }
}

async function open(address: string): Promise<Client> {
  const c = await connect(address)
  cleanup.push(() => c.socket.terminate())
  return c
}

if (url === undefined || url === '') {
  if (process.env.TENANTRY_REQUIRE_SERVICES === '1') {
    test('redis broker: REDIS_URL must be set when TENANTRY_REQUIRE_SERVICES=1', () => {
      throw new Error('REDIS_URL is not set, but TENANTRY_REQUIRE_SERVICES=1 requires Redis.')
    })
  } else {
    test.skip('redis broker (skipped: REDIS_URL is not set; e.g. REDIS_URL=redis://127.0.0.1:6379)', () => {})
  }
} else {
  describe('many processes through Redis pub/sub', () => {
    test('a publish on one node reaches the same tenant’s subscribers on the other, no one else', async () => {
      const prefix = `${unique('tenantry-rt-test')}:`
      const one = await node(prefix)
      const two = await node(prefix)
      const acmeOnTwo = await open(`${two.ws}/t/acme/live?channel=page:home`)
      const globexOnTwo = await open(`${two.ws}/t/globex/live?channel=page:home`)
      const acmeOnOne = await open(`${one.ws}/t/acme/live?channel=page:home`)
      await waitFor(() => two.hub.stats().channels === 2 && one.hub.stats().channels === 1, 'subs')
      await one.tenancy.withTenant('acme', () => one.hub.publish('page:home', 'edited'))
      await waitFor(
        () => acmeOnTwo.messages.length === 1 && acmeOnOne.messages.length === 1,
        'deliveries on both nodes',
      )
      await one.tenancy.withTenant('globex', () => one.hub.publish('page:home', 'g'))
      await waitFor(() => globexOnTwo.messages.length === 1, 'globex delivery')
      expect(acmeOnTwo.messages.map((m) => JSON.parse(m).data)).toEqual(['edited'])
      expect(globexOnTwo.messages.map((m) => JSON.parse(m).data)).toEqual(['g'])
    })

    test('another prefix on the same Redis hears nothing', async () => {
      const one = await node(`${unique('tenantry-rt-test')}:`)
      const other = await node(`${unique('tenantry-rt-test')}:`)
      const a = await open(`${one.ws}/t/acme/live?channel=x`)
      const b = await open(`${other.ws}/t/acme/live?channel=x`)
      await waitFor(
        () => one.hub.stats().channels === 1 && other.hub.stats().channels === 1,
        'subs',
      )
      await one.tenancy.withTenant('acme', () => one.hub.publish('x', 1))
      await other.tenancy.withTenant('acme', () => other.hub.publish('x', 2))
      await waitFor(() => a.messages.length === 1 && b.messages.length === 1, 'deliveries')
      expect(JSON.parse(a.messages[0]!).data).toBe(1)
      expect(JSON.parse(b.messages[0]!).data).toBe(2)
    })

    test('closeTenantConnections on one node closes the tenant’s connections on every node', async () => {
      const prefix = `${unique('tenantry-rt-test')}:`
      const one = await node(prefix)
      const two = await node(prefix)
      const acme = await open(`${two.ws}/t/acme/live?channel=x`)
      const globex = await open(`${two.ws}/t/globex/live?channel=x`)
      await waitFor(() => two.hub.connectionCount() === 2, 'connections')
      expect(await one.hub.closeTenantConnections('acme')).toBe(0) // none on this node
      expect((await acme.closed).code).toBe(4410)
      expect(globex.socket.readyState).toBe(globex.socket.OPEN)
    })
  })
}
