import { Writable } from 'node:stream'
import {
  createTenancy,
  tenancy as sharedTenancy,
  type Tenancy,
  withTenant,
} from '@tenantry/context'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createLogger, getLogger, logResource, setLogger, sqlLogger } from '../src/index.js'

type Line = Record<string, unknown> & { msg?: string; tenant?: string }

/** A real destination: pino writes serialized lines; each is parsed back with JSON.parse. */
function capture() {
  const lines: Line[] = []
  let buffer = ''
  const stream = new Writable({
    write(chunk, _enc, done) {
      buffer += chunk.toString()
      let nl = buffer.indexOf('\n')
      while (nl !== -1) {
        lines.push(JSON.parse(buffer.slice(0, nl)))
        buffer = buffer.slice(nl + 1)
        nl = buffer.indexOf('\n')
      }
      done()
    },
  })
  return { stream, lines }
}

let tenancy: Tenancy

beforeEach(() => {
  tenancy = createTenancy()
})

afterEach(async () => {
  await tenancy.reset()
  await sharedTenancy.reset()
  setLogger(undefined)
})

describe('createLogger', () => {
  it('adds tenant inside a tenant and nothing outside', async () => {
    const { stream, lines } = capture()
    const log = createLogger({ tenancy }, stream)
    log.info('before')
    await tenancy.withTenant('acme', () => log.info({ page: 'home' }, 'inside'))
    log.info('after')
    expect(lines.map((l) => [l.msg, l.tenant])).toEqual([
      ['before', undefined],
      ['inside', 'acme'],
      ['after', undefined],
    ])
    expect('tenant' in lines[0]!).toBe(false)
    expect(lines[1]!.page).toBe('home')
  })

  it('uses the shared tenancy by default', async () => {
    const { stream, lines } = capture()
    const log = createLogger({}, stream)
    await withTenant('globex', () => log.warn('hi'))
    expect(lines[0]).toMatchObject({ tenant: 'globex', level: 40, msg: 'hi' })
  })

  it('tags child loggers too (Fastify request loggers, job loggers)', async () => {
    const { stream, lines } = capture()
    const log = createLogger({ tenancy }, stream)
    const child = log.child({ reqId: 'r1' })
    await tenancy.withTenant('acme', () => child.info('req'))
    child.info('no tenant')
    expect(lines[0]).toMatchObject({ reqId: 'r1', tenant: 'acme' })
    expect(lines[1]!.tenant).toBeUndefined()
  })

  it('lets the context win over a tenant field passed to the call', async () => {
    const { stream, lines } = capture()
    const log = createLogger({ tenancy }, stream)
    await tenancy.withTenant('acme', () => log.info({ tenant: 'spoofed' }, 'x'))
    log.info({ tenant: 'explicit' }, 'admin tool')
    expect(lines.map((l) => l.tenant)).toEqual(['acme', 'explicit'])
  })

  it("keeps the app's own mixin and a custom field name", async () => {
    const { stream, lines } = capture()
    const log = createLogger(
      { tenancy, tenantKey: 'org', mixin: () => ({ service: 'wiki' }) },
      stream,
    )
    await tenancy.withTenant('acme', () => log.info('x'))
    log.info('y')
    expect(lines[0]).toMatchObject({ org: 'acme', service: 'wiki' })
    expect(lines[0]!.tenant).toBeUndefined()
    expect(lines[1]).toMatchObject({ service: 'wiki' })
    expect(lines[1]!.org).toBeUndefined()
  })

  it('never mixes tenants across interleaved concurrent work', async () => {
    const { stream, lines } = capture()
    const log = createLogger({ tenancy }, stream)
    const tenants = Array.from({ length: 40 }, (_, i) => `t${i}`)
    const pause = () =>
      new Promise<void>((resolve) => setTimeout(resolve, Math.floor(Math.random() * 3)))
    await Promise.all(
      tenants.map((t) =>
        tenancy.withTenant(t, async () => {
          for (let i = 0; i < 15; i++) {
            await pause()
            log.info({ expected: t, i }, 'step')
            // also from a callback scheduled inside the tenant
            await new Promise<void>((resolve) =>
              queueMicrotask(() => {
                log.debug({ expected: t }, 'micro')
                resolve()
              }),
            )
          }
        }),
      ),
    )
    expect(lines.length).toBe(40 * 15)
    for (const line of lines) expect(line.tenant).toBe(line.expected)
    // The work really interleaved: consecutive lines often come from different tenants.
    let switches = 0
    for (let i = 1; i < lines.length; i++) if (lines[i]!.tenant !== lines[i - 1]!.tenant) switches++
    expect(switches).toBeGreaterThan(40)
  })
})

describe('getLogger', () => {
  it('returns the installed logger, shared by every caller', async () => {
    const { stream, lines } = capture()
    const log = createLogger({ tenancy }, stream)
    expect(getLogger()).toBe(log)
    await tenancy.withTenant('acme', () => getLogger().info('via getter'))
    expect(lines[0]).toMatchObject({ tenant: 'acme', msg: 'via getter' })

    const other = createLogger({ install: false }, capture().stream)
    expect(getLogger()).toBe(log)
    setLogger(other)
    expect(getLogger()).toBe(other)
  })

  it('creates a default logger on first use', () => {
    setLogger(undefined)
    const a = getLogger()
    expect(getLogger()).toBe(a)
    expect(typeof a.info).toBe('function')
  })

  it('can be registered as a global resource and overridden in tests', async () => {
    const { stream, lines } = capture()
    const log = createLogger({ tenancy }, stream)
    tenancy.defineResource('log', logResource())
    expect(tenancy.getResource('log')).toBe(log)
    const fake = createLogger({ tenancy, install: false }, capture().stream)
    tenancy.withOverrides({ log: fake }, () => expect(tenancy.getResource('log')).toBe(fake))
    await tenancy.withTenant('acme', () => expect(tenancy.getResource('log')).toBe(log))
    expect(lines).toEqual([])
  })
})

describe('sqlLogger', () => {
  it('writes queries and failures through the tenant-aware logger', async () => {
    const { stream, lines } = capture()
    const logger = createLogger({ tenancy, level: 'debug' }, stream)
    const log = sqlLogger({ logger })
    await tenancy.withTenant('acme', () => {
      log({
        level: 'query',
        query: { sql: 'select 1', parameters: [42] },
        queryDurationMillis: 1.5,
      })
      log({
        level: 'error',
        query: { sql: 'select nope', parameters: [] },
        queryDurationMillis: 0.2,
        error: new Error('no such column: nope'),
      })
    })
    expect(lines[0]).toMatchObject({ tenant: 'acme', sql: 'select 1', durationMs: 1.5, level: 20 })
    expect(lines[0]!.parameters).toBeUndefined()
    expect(lines[1]).toMatchObject({ tenant: 'acme', level: 50, msg: 'query failed' })
    expect((lines[1]!.err as { message: string }).message).toBe('no such column: nope')
  })

  it('includes parameters only when asked', () => {
    const { stream, lines } = capture()
    createLogger({ tenancy, level: 'trace' }, stream)
    sqlLogger({ parameters: true, level: 'trace' })({
      level: 'query',
      query: { sql: 'select ?', parameters: [1] },
      queryDurationMillis: 0,
    })
    expect(lines[0]).toMatchObject({ parameters: [1], level: 10 })
  })
})
