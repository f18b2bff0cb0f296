import { Readable } from 'node:stream'
import type { Tenancy } from '@tenantry/context'
import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { fromSubdomain } from '../src/index.js'
import { type Harness, makeApp, seen } from './helpers.js'

// Every lifecycle hook and the handler record what they see; the same app is driven through
// fastify.inject and through a real socket (where body parsing ends in a socket event).

type Record = [string, string]

function instrument(app: FastifyInstance, tenancy: Tenancy, record: Record[]): void {
  const note = (what: string) => record.push([what, seen(tenancy)])
  app.addHook('onRequest', (_req, _reply, done) => {
    note('onRequest')
    done()
  })
  app.addHook('preParsing', (_req, _reply, payload, done) => {
    note('preParsing')
    done(null, payload)
  })
  app.addHook('preValidation', (_req, _reply, done) => {
    note('preValidation')
    done()
  })
  app.addHook('preHandler', (_req, _reply, done) => {
    note('preHandler')
    done()
  })
  app.addHook('preSerialization', (_req, _reply, payload, done) => {
    note('preSerialization')
    done(null, payload)
  })
  app.addHook('onSend', (_req, _reply, payload, done) => {
    note('onSend')
    done(null, payload)
  })
  app.addHook('onError', (_req, _reply, _err, done) => {
    note('onError')
    done()
  })
  app.addHook('onResponse', async () => {
    await new Promise((r) => setImmediate(r)) // an async hook: later code must stay inside
    note('onResponse')
  })
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => {
    done(null, payload) // the handler reads the request stream itself
  })

  app.get('/get', async (request) => {
    note('handler')
    return { tenant: request.tenant }
  })
  app.post('/json', async (request) => {
    note('handler')
    return { tenant: request.tenant, body: request.body }
  })
  app.post('/upload', async (request) => {
    let bytes = 0
    for await (const chunk of request.body as Readable) {
      bytes += (chunk as Buffer).length
      note('request-stream')
    }
    note('handler')
    return { bytes }
  })
  app.get('/download', async (_request, reply) => {
    note('handler')
    async function* chunks() {
      for (let i = 0; i < 8; i++) {
        await new Promise((r) => setImmediate(r))
        note('reply-stream')
        yield Buffer.alloc(64 * 1024, 97 + i) // large enough to hit backpressure on a socket
      }
    }
    reply.type('application/octet-stream')
    return Readable.from(chunks())
  })
  app.get('/boom', async () => {
    note('handler')
    throw new Error('boom')
  })
}

const FULL = ['onRequest', 'preParsing', 'preValidation', 'preHandler', 'handler']

interface Call {
  method: 'GET' | 'POST'
  url: string
  body?: string | Buffer[]
  type?: string
}

type Sender = (app: FastifyInstance, call: Call) => Promise<{ status: number; text: string }>

const viaInject: Sender = async (app, call) => {
  const payload = Array.isArray(call.body) ? Readable.from(call.body) : call.body
  const res = await app.inject({
    method: call.method,
    url: call.url,
    headers: {
      host: 'acme.example.com',
      ...(call.type ? { 'content-type': call.type } : {}),
    },
    ...(payload === undefined ? {} : { payload }),
  })
  return { status: res.statusCode, text: res.body }
}

const viaSocket: Sender = async (app, call) => {
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('not listening')
  // fetch() would send Host: 127.0.0.1; a real client with a real name goes through a resolver
  // that maps acme.example.com to 127.0.0.1, so set the header through node:http instead.
  const { request } = await import('node:http')
  return await new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: address.port,
        method: call.method,
        path: call.url,
        headers: {
          host: `acme.example.com:${address.port}`,
          ...(call.type ? { 'content-type': call.type } : {}),
        },
      },
      (res) => {
        const parts: Buffer[] = []
        res.on('data', (c: Buffer) => parts.push(c))
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString() }),
        )
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    if (Array.isArray(call.body)) {
      const body = call.body
      let i = 0
      const writeNext = () => {
        if (i === body.length) return req.end()
        req.write(body[i++], () => setImmediate(writeNext)) // separate chunks on the wire
      }
      writeNext()
    } else {
      req.end(call.body)
    }
  })
}

for (const [name, send] of [
  ['inject', viaInject],
  ['a real socket', viaSocket],
] as const) {
  describe(`every hook runs inside the tenant (${name})`, () => {
    let h: Harness
    const record: Record[] = []

    async function run(call: Call) {
      record.length = 0
      h = await makeApp({ resolve: fromSubdomain({ root: 'example.com' }) })
      instrument(h.app, h.tenancy, record)
      if (send === viaSocket) await h.app.listen({ host: '127.0.0.1', port: 0 })
      else await h.app.ready()
      const res = await send(h.app, call)
      // onResponse runs after the client has the response: wait until the scope closes (the
      // tenant's probe is disposed only once every request holding it is done).
      await h.tenancy.releaseTenant('acme')
      return res
    }

    afterEach(async () => {
      await h.app.close()
      await h.tenancy.close()
    })

    it('GET', async () => {
      const res = await run({ method: 'GET', url: '/get' })
      expect(res.status).toBe(200)
      expect(JSON.parse(res.text)).toEqual({ tenant: 'acme' })
      expect(record).toEqual(
        [...FULL, 'preSerialization', 'onSend', 'onResponse'].map((w) => [w, 'acme']),
      )
      expect(h.disposed).toEqual(['acme'])
    })

    it('JSON POST (body parsing in between)', async () => {
      const body = JSON.stringify({ a: 'x'.repeat(100_000) })
      const res = await run({ method: 'POST', url: '/json', body, type: 'application/json' })
      expect(res.status).toBe(200)
      expect(JSON.parse(res.text).body.a).toHaveLength(100_000)
      expect(record).toEqual(
        [...FULL, 'preSerialization', 'onSend', 'onResponse'].map((w) => [w, 'acme']),
      )
    })

    it('streamed request body', async () => {
      const body = Array.from({ length: 5 }, (_, i) => Buffer.alloc(32 * 1024, 48 + i))
      const res = await run({
        method: 'POST',
        url: '/upload',
        body,
        type: 'application/octet-stream',
      })
      expect(JSON.parse(res.text)).toEqual({ bytes: 5 * 32 * 1024 })
      const streamed = record.filter(([w]) => w === 'request-stream')
      expect(streamed.length).toBeGreaterThan(0)
      expect(new Set(record.map(([, t]) => t))).toEqual(new Set(['acme']))
      expect(record.at(-1)).toEqual(['onResponse', 'acme'])
    })

    it('streamed reply', async () => {
      const res = await run({ method: 'GET', url: '/download' })
      expect(res.text).toHaveLength(8 * 64 * 1024)
      expect(record.filter(([w]) => w === 'reply-stream')).toHaveLength(8)
      expect(new Set(record.map(([, t]) => t))).toEqual(new Set(['acme']))
      expect(record.at(-1)).toEqual(['onResponse', 'acme'])
    })

    it('a malformed JSON body (the error is raised by the body parser)', async () => {
      const res = await run({
        method: 'POST',
        url: '/json',
        body: '{"a":',
        type: 'application/json',
      })
      expect(res.status).toBe(400)
      expect(record).toEqual(
        ['onRequest', 'preParsing', 'onError', 'onSend', 'onResponse'].map((w) => [w, 'acme']),
      )
    })

    it('a failing handler (onError, the error reply)', async () => {
      const res = await run({ method: 'GET', url: '/boom' })
      expect(res.status).toBe(500)
      expect(record).toEqual([...FULL, 'onError', 'onSend', 'onResponse'].map((w) => [w, 'acme']))
    })
  })
}
