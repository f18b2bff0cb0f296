import { describe, expect, test } from 'vitest'
import type { Realtime } from '../src/index.js'
import { type Client, closing, makeServer, makeTenancy, stream, waitFor } from './helpers.js'

const { cleanup, server, open } = closing()

/** Routes where the client names its channel in the query: `?channel=…`. */
function channelRoutes(app: Parameters<Parameters<typeof makeServer>[1]>[0], hub: Realtime) {
  const subscribe = (conn: { subscribe(c: string): Promise<void> }, url: string) =>
    conn.subscribe(new URL(url, 'http://x').searchParams.get('channel')!)
  hub.websocket(app, '/t/:tenant/live', (conn, request) => subscribe(conn, request.url))
  hub.eventStream(app, '/t/:tenant/events', (conn, request) => subscribe(conn, request.url))
}

const data = (c: Client) => c.messages.map((m) => (JSON.parse(m) as { data: unknown }).data)

describe('channels are per tenant', () => {
  test('a publish in acme reaches acme’s subscribers of that channel only', async () => {
    const { tenancy } = makeTenancy()
    const { ws, hub } = await server(tenancy, channelRoutes)
    const acme = await open(`${ws}/t/acme/live?channel=page:home`)
    const acmeOther = await open(`${ws}/t/acme/live?channel=page:about`)
    const globex = await open(`${ws}/t/globex/live?channel=page:home`)
    await waitFor(() => hub.stats().channels === 3, 'subscriptions')
    await tenancy.withTenant('acme', () => hub.publish('page:home', { v: 1 }))
    await tenancy.withTenant('globex', () => hub.publish('page:home', { v: 2 }))
    await waitFor(() => acme.messages.length === 1 && globex.messages.length === 1, 'deliveries')
    expect(JSON.parse(acme.messages[0]!)).toEqual({ channel: 'page:home', data: { v: 1 } })
    expect(data(globex)).toEqual([{ v: 2 }])
    expect(acmeOther.messages).toEqual([])
  })

  test('names that would collide if joined naively stay apart (tenant "a:b" + "c" vs "a" + "b:c")', async () => {
    // A naming rule that lets ':' and '%' into tenant names, the worst case for key joining.
    const { tenancy } = makeTenancy(['a', 'a:b', 'a%3Ab', 'a%b'], /^[a-zA-Z:%0-9]+$/)
    const { ws, hub } = await server(tenancy, channelRoutes)
    const inA = await open(`${ws}/t/a/live?channel=${encodeURIComponent('b:c')}`)
    const inAB = await open(`${ws}/t/${encodeURIComponent('a:b')}/live?channel=c`)
    const inEncoded = await open(`${ws}/t/${encodeURIComponent('a%3Ab')}/live?channel=c`)
    const inPercent = await open(`${ws}/t/${encodeURIComponent('a%b')}/live?channel=c`)
    await waitFor(() => hub.stats().channels === 4, 'subscriptions')
    await tenancy.withTenant('a:b', () => hub.publish('c', 'for a:b'))
    await tenancy.withTenant('a', () => hub.publish('b:c', 'for a'))
    await tenancy.withTenant('a%3Ab', () => hub.publish('c', 'for a%3Ab'))
    await tenancy.withTenant('a%b', () => hub.publish('c', 'for a%b'))
    const all = [inA, inAB, inEncoded, inPercent]
    await waitFor(() => all.every((c) => c.messages.length >= 1), 'deliveries')
    // One more round trip on each, so a stray extra message would have arrived by now.
    await tenancy.withTenant('a', () => hub.publish('b:c', 'end'))
    await waitFor(() => inA.messages.length === 2, 'end marker')
    expect(data(inA)).toEqual(['for a', 'end'])
    expect(data(inAB)).toEqual(['for a:b'])
    expect(data(inEncoded)).toEqual(['for a%3Ab'])
    expect(data(inPercent)).toEqual(['for a%b'])
  })

  test('publish needs a tenant; publishTo names one explicitly (admin code)', async () => {
    const { tenancy } = makeTenancy()
    const { ws, hub } = await server(tenancy, channelRoutes)
    const acme = await open(`${ws}/t/acme/live?channel=news`)
    await waitFor(() => hub.stats().channels === 1, 'subscription')
    await expect(hub.publish('news', 1)).rejects.toMatchObject({ code: 'TENANTRY_NO_TENANT' })
    await expect(tenancy.withTenant('acme', () => hub.publish('', 1))).rejects.toMatchObject({
      code: 'TENANTRY_REALTIME_CHANNEL',
    })
    await hub.publishTo('acme', 'news', 'from admin')
    await waitFor(() => acme.messages.length === 1, 'delivery')
    expect(data(acme)).toEqual(['from admin'])
  })

  test('Server-Sent Events receive their tenant’s publishes as data records', async () => {
    const { tenancy } = makeTenancy()
    const { base, hub } = await server(tenancy, channelRoutes)
    const acme = await stream(`${base}/t/acme/events?channel=feed`)
    const globex = await stream(`${base}/t/globex/events?channel=feed`)
    cleanup.push(
      () => acme.close(),
      () => globex.close(),
    )
    expect(acme.status).toBe(200)
    expect(acme.response.headers['content-type']).toMatch(/^text\/event-stream/)
    await waitFor(() => hub.stats().channels === 2, 'subscriptions')
    await tenancy.withTenant('acme', () => hub.publish('feed', 'line\nbreak'))
    await waitFor(() => acme.records.length === 1, 'delivery')
    expect(acme.records).toEqual([
      `data: ${JSON.stringify({ channel: 'feed', data: 'line\nbreak' })}`,
    ])
    expect(globex.records).toEqual([])
    const unknown = await stream(`${base}/t/nobody/events?channel=feed`)
    expect(unknown.status).toBe(404)
    unknown.close()
  })

  test('closeTenantConnections closes one tenant’s sockets and streams, and only them', async () => {
    const { tenancy } = makeTenancy()
    const { ws, base, hub } = await server(tenancy, channelRoutes)
    const acme = await open(`${ws}/t/acme/live?channel=x`)
    const acmeStream = await stream(`${base}/t/acme/events?channel=x`)
    const globex = await open(`${ws}/t/globex/live?channel=x`)
    cleanup.push(() => acmeStream.close())
    await waitFor(() => hub.connectionCount() === 3, 'connections')
    expect(await hub.closeTenantConnections('acme')).toBe(2)
    expect(await acme.closed).toEqual({ code: 4410, reason: 'tenant closed' })
    await acmeStream.ended
    expect(acmeStream.records).toEqual([
      `event: close\ndata: ${JSON.stringify({ code: 4410, reason: 'tenant closed' })}`,
    ])
    await waitFor(() => hub.connectionCount('acme') === 0, 'acme gone')
    expect(hub.connectionCount('globex')).toBe(1)
    await tenancy.withTenant('globex', () => hub.publish('x', 'still here'))
    await waitFor(() => globex.messages.length === 1, 'globex still served')
  })

  test('an event stream that is not read is dropped once its buffer passes the bound', async () => {
    const { tenancy } = makeTenancy()
    const { base, hub } = await server(tenancy, channelRoutes, { maxBufferedBytes: 64 * 1024 })
    const slow = await stream(`${base}/t/acme/events?channel=feed`)
    cleanup.push(() => slow.close())
    await waitFor(() => hub.connectionCount('acme') === 1 && hub.stats().channels === 1, 'sub')
    slow.response.pause() // stops reading: the kernel buffers fill, then the response's
    const chunk = 'y'.repeat(16 * 1024)
    // What the kernel buffers for a paused reader depends on the machine (tcp_rmem's maximum is
    // 32 MiB on some): publish until the drop, bounded in time and bytes (256 MiB).
    const deadline = Date.now() + 90_000
    for (
      let sent = 0;
      hub.stats().slowConsumersDropped === 0 && sent < 16_384 && Date.now() < deadline;
      sent++
    ) {
      await tenancy.withTenant('acme', () => hub.publish('feed', chunk))
      if (sent % 64 === 0) await new Promise((r) => setImmediate(r))
    }
    expect(hub.stats().slowConsumersDropped).toBe(1)
    expect(hub.connectionCount('acme')).toBe(0)
  }, 120_000)

  test('app.close() ends open event streams instead of waiting for them', async () => {
    const { tenancy } = makeTenancy()
    const { base, app } = await makeServer(tenancy, channelRoutes)
    const s = await stream(`${base}/t/acme/events?channel=x`)
    await app.close()
    await s.ended
    expect(s.records.at(-1)).toMatch(/^event: close/)
  })
})

test('onMessage on an event stream is refused with TENANTRY_REALTIME_UNSUPPORTED', async () => {
  const { tenancy } = makeTenancy()
  let refused: unknown
  const { base } = await server(tenancy, (app, hub) => {
    hub.eventStream(app, '/t/:tenant/events', (conn) => {
      try {
        conn.onMessage(() => {})
      } catch (error) {
        refused = error
      }
      conn.send('ready', true)
    })
  })
  const acme = await stream(`${base}/t/acme/events`)
  cleanup.push(() => acme.close())
  await waitFor(() => acme.records.length === 1, 'the ready record')
  expect(refused).toMatchObject({
    code: 'TENANTRY_REALTIME_UNSUPPORTED',
    message: expect.stringContaining('WebSocket'),
  })
})
