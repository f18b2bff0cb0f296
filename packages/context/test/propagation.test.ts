import { EventEmitter, once } from 'node:events'
import { PassThrough, Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { setTimeout as sleepTurn } from 'node:timers/promises'
import { bind, currentTenant, snapshot, tenancy, withTenant } from '@tenantry/context'
import { afterEach, describe, expect, it } from 'vitest'

afterEach(() => tenancy.reset())

describe('the tenant survives async boundaries', () => {
  it('await, thenables and microtasks', async () => {
    await withTenant('acme', async () => {
      await null
      expect(currentTenant()).toBe('acme')
      const thenable = {
        // biome-ignore lint/suspicious/noThenProperty: a thenable is exactly what is tested
        then: (resolve: (v: string | undefined) => void) => resolve(currentTenant()),
      }
      expect(await thenable).toBe('acme')
      const fromMicrotask = await new Promise((r) => queueMicrotask(() => r(currentTenant())))
      expect(fromMicrotask).toBe('acme')
    })
  })

  it('timers: setTimeout, setImmediate, setInterval, timers/promises', async () => {
    await withTenant('acme', async () => {
      expect(await new Promise((r) => setTimeout(() => r(currentTenant()), 1))).toBe('acme')
      expect(await new Promise((r) => setImmediate(() => r(currentTenant())))).toBe('acme')
      const fromInterval = await new Promise((r) => {
        const id = setInterval(() => {
          clearInterval(id)
          r(currentTenant())
        }, 1)
      })
      expect(fromInterval).toBe('acme')
      await sleepTurn(1)
      expect(currentTenant()).toBe('acme')
    })
  })

  it('promise combinators', async () => {
    await withTenant('acme', async () => {
      const read = async () => {
        await null
        return currentTenant()
      }
      expect(await Promise.all([read(), read()])).toEqual(['acme', 'acme'])
      expect(await Promise.race([read(), read()])).toBe('acme')
      expect(await Promise.any([read()])).toBe('acme')
      const settled = await Promise.allSettled([read()])
      expect(settled[0]).toEqual({ status: 'fulfilled', value: 'acme' })
    })
  })

  it('async generators and for await', async () => {
    async function* tenants() {
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setImmediate(r))
        yield currentTenant()
      }
    }
    const seen = await withTenant('acme', async () => {
      const out: (string | undefined)[] = []
      for await (const t of tenants()) out.push(t)
      return out
    })
    expect(seen).toEqual(['acme', 'acme', 'acme'])
  })

  it('streams: a pipeline created in the tenant runs its transforms in it', async () => {
    const seen = await withTenant('acme', async () => {
      const out: (string | undefined)[] = []
      await pipeline(
        Readable.from(['a', 'b', 'c']),
        new Transform({
          objectMode: true,
          transform(chunk, _enc, cb) {
            out.push(currentTenant())
            cb(null, chunk)
          },
        }),
        new PassThrough({ objectMode: true }).resume(),
      )
      return out
    })
    expect(seen).toEqual(['acme', 'acme', 'acme'])
  })

  it('an EventEmitter listener runs in the context of emit(), unless bound', async () => {
    const emitter = new EventEmitter()
    const plain: (string | undefined)[] = []
    const bound: (string | undefined)[] = []
    await withTenant('acme', () => {
      emitter.on('tick', () => plain.push(currentTenant()))
      emitter.on(
        'tick',
        bind(() => bound.push(currentTenant())),
      )
    })
    emitter.emit('tick') // outside any tenant
    await withTenant('other', () => emitter.emit('tick'))
    expect(plain).toEqual([undefined, 'other'])
    expect(bound).toEqual(['acme', 'acme'])
  })

  it('once() resolves in the awaiting context', async () => {
    const emitter = new EventEmitter()
    const waiting = withTenant('acme', async () => {
      await once(emitter, 'go')
      return currentTenant()
    })
    await new Promise((r) => setImmediate(r))
    emitter.emit('go')
    expect(await waiting).toBe('acme')
  })

  it('snapshot() runs a callback later in the captured frame', async () => {
    const run = await withTenant('acme', () => snapshot())
    expect(currentTenant()).toBeUndefined()
    expect(run(() => currentTenant())).toBe('acme')
    const outside = snapshot()
    const insideOther = await withTenant('other', () => outside(() => currentTenant()))
    expect(insideOther).toBeUndefined()
  })

  it('bind() keeps `this` and arguments', async () => {
    const obj = {
      name: 'x',
      f: await withTenant('acme', () =>
        bind(function (this: { name: string }, n: number) {
          return `${this.name}:${n}:${currentTenant()}`
        }),
      ),
    }
    expect(obj.f(1)).toBe('x:1:acme')
  })
})
