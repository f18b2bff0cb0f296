import type { Tenancy } from '@tenantry/context'
import pino from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { fromHeader } from '../src/index.js'
import { type Harness, makeApp } from './helpers.js'

// Real pino output (Fastify's own logger writing JSON lines to a stream), parsed line by line.

interface Line {
  msg: string
  reqId?: string
  tenant?: string
  [key: string]: unknown
}

let h: Harness
afterEach(async () => {
  await h?.app.close()
  await h?.tenancy.close()
})

function capture() {
  const lines: Line[] = []
  const raw: string[] = []
  return {
    lines,
    raw,
    stream: {
      write(s: string) {
        raw.push(s)
        lines.push(JSON.parse(s) as Line)
      },
    },
  }
}

async function appWithLogs(extra: { logBindings?: boolean; mixin?: () => object } = {}) {
  const out = capture()
  h = await makeApp(
    { resolve: fromHeader('x-tenant'), logBindings: extra.logBindings },
    {
      logger: { level: 'info', stream: out.stream, ...(extra.mixin ? { mixin: extra.mixin } : {}) },
    },
  )
  h.app.get('/work', async (request) => {
    request.log.info('in handler')
    h.app.log.info('root logger in handler')
    return 'ok'
  })
  h.app.post('/json', async (request) => {
    request.log.info('in json handler')
    return request.body
  })
  await h.app.ready()
  return out
}

const byReq = (lines: Line[], msg: string) => {
  const id = lines.find((l) => l.msg === msg)?.reqId
  return lines.filter((l) => l.reqId === id)
}

describe('logging', () => {
  it('tags every line of a tenanted request after resolution, and nothing else', async () => {
    const out = await appWithLogs()
    h.app.log.info('startup')
    await h.app.inject({ url: '/work', headers: { 'x-tenant': 'acme' } })
    await h.app.inject({
      method: 'POST',
      url: '/json',
      headers: { 'x-tenant': 'globex' },
      payload: { a: 1 },
    })
    await h.app.inject({ url: '/work' }) // untenanted
    await h.app.inject({ url: '/work', headers: { 'x-tenant': 'nosuch' } })

    const [acme, globex, none, unknown] = [
      byReq(out.lines, 'in handler'),
      byReq(out.lines, 'in json handler'),
      out.lines.filter((l) => l.reqId === 'req-3'),
      out.lines.filter((l) => l.reqId === 'req-4'),
    ]
    // Fastify writes "incoming request" before any hook can know the tenant.
    expect(acme.map((l) => [l.msg, l.tenant])).toEqual([
      ['incoming request', undefined],
      ['in handler', 'acme'],
      ['request completed', 'acme'],
    ])
    expect(globex.map((l) => [l.msg, l.tenant])).toEqual([
      ['incoming request', undefined],
      ['in json handler', 'globex'],
      ['request completed', 'globex'],
    ])
    expect(none.length).toBeGreaterThan(1)
    expect(unknown.map((l) => l.res && (l.res as { statusCode: number }).statusCode)).toContain(404)
    for (const l of [...none, ...unknown]) expect(l.tenant, l.msg).toBeUndefined()
    // Lines outside requests, including the root logger used inside a handler, are untagged.
    const outside = out.lines.filter((l) => l.reqId === undefined)
    expect(outside.map((l) => l.msg)).toEqual([
      'startup',
      'root logger in handler', // acme's request
      'root logger in handler', // the untenanted one
    ])
    for (const l of outside) expect(l.tenant).toBeUndefined()
    // One tenant key per line (no duplicated bindings).
    for (const s of out.raw) expect(s.match(/"tenant":/g)?.length ?? 0).toBeLessThanOrEqual(1)
  })

  it('can leave tagging to a pino mixin instead (root logger lines included)', async () => {
    let tenancy: Tenancy | undefined
    const out = await appWithLogs({
      logBindings: false,
      mixin: () => {
        const tenant = tenancy?.currentTenant()
        return tenant === undefined ? {} : { tenant }
      },
    })
    tenancy = h.tenancy
    h.app.log.info('startup')
    await h.app.inject({ url: '/work', headers: { 'x-tenant': 'acme' } })
    const inHandler = out.lines.filter((l) => l.msg.includes('in handler'))
    expect(inHandler.map((l) => [l.msg, l.tenant])).toEqual([
      ['in handler', 'acme'],
      ['root logger in handler', 'acme'],
    ])
    expect(out.lines.find((l) => l.msg === 'startup')?.tenant).toBeUndefined()
    for (const s of out.raw) expect(s.match(/"tenant":/g)?.length ?? 0).toBeLessThanOrEqual(1)
  })

  it('does not bind the tenant again on a logger whose mixin adds it (@tenantry/log)', async () => {
    const out = capture()
    let tenancy: Tenancy | undefined
    const logger = pino(
      { mixin: () => (tenancy?.currentTenant() ? { tenant: tenancy.currentTenant() } : {}) },
      out.stream,
    )
    ;(logger as unknown as Record<symbol, unknown>)[Symbol.for('tenantry.log.tagsTenant')] = true
    h = await makeApp({ resolve: fromHeader('x-tenant') }, { loggerInstance: logger })
    tenancy = h.tenancy
    h.app.get('/work', async (request) => {
      request.log.info('in handler')
      return 'ok'
    })
    await h.app.inject({ url: '/work', headers: { 'x-tenant': 'acme' } })
    const line = out.raw.find((s) => s.includes('in handler'))!
    expect(JSON.parse(line).tenant).toBe('acme')
    expect(line.match(/"tenant":/g)).toHaveLength(1)
  })
})
