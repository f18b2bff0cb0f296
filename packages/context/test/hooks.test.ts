// onEnter / onLeave: order, what a throwing hook does, and where hooks do not run.
import type { TenantLeaveEvent } from '@tenantry/context'
import { describe, expect, it } from 'vitest'
import { randomTurns, tenancyWith, tenantNames } from './helpers.js'

describe('onEnter / onLeave hooks', () => {
  it('run in order around each scope, inside the tenant with its resources open', async () => {
    const t = tenancyWith(['acme'])
    t.defineResource('db', { create: async (tenant) => ({ tenant }), eager: true })
    const log: string[] = []
    t.onEnter(({ tenant }) => {
      log.push(`enter1 ${tenant} ${t.currentTenant()} ${(t.getResource('db') as any).tenant}`)
    })
    t.onEnter(({ tenant }) => log.push(`enter2 ${tenant}`))
    t.onLeave(({ tenant, failed }) => log.push(`leave1 ${tenant} ${failed}`))
    t.onLeave(({ tenant }) => {
      log.push(`leave2 ${tenant} ${t.currentTenant()} ${(t.getResource('db') as any).tenant}`)
    })
    const result = await t.withTenant('acme', async () => {
      log.push('fn')
      return 42
    })
    expect(result).toBe(42)
    expect(log).toEqual([
      'enter1 acme acme acme',
      'enter2 acme',
      'fn',
      'leave2 acme acme acme',
      'leave1 acme false',
    ])
  })

  it('pair up per scope across many interleaved tenants, the later scope finishing first', async () => {
    const names = tenantNames(20)
    const t = tenancyWith(names)
    const open = new Map<string, number>()
    let maxOpen = 0
    const left: string[] = []
    const inside: (string | undefined)[] = []
    t.onEnter(({ tenant }) => {
      open.set(tenant, (open.get(tenant) ?? 0) + 1)
      maxOpen = Math.max(
        maxOpen,
        [...open.values()].reduce((a, b) => a + b, 0),
      )
    })
    // Assertions after the run: a hook's throw would only reach onError.
    t.onLeave(({ tenant, durationMs }) => {
      if (t.currentTenant() !== tenant || !(durationMs >= 0)) inside.push(t.currentTenant())
      open.set(tenant, open.get(tenant)! - 1)
      left.push(tenant)
    })
    const jobs = names.flatMap((name, i) => [
      t.withTenant(name, async () => {
        await randomTurns(8)
        expect(t.currentTenant()).toBe(name)
      }),
      t.withTenant(name, (): unknown => (i % 2 === 0 ? 'sync' : randomTurns(3))),
    ])
    await Promise.all(jobs)
    expect(left).toHaveLength(40)
    expect(inside).toEqual([])
    expect([...open.values()].every((n) => n === 0)).toBe(true)
    expect(maxOpen).toBeGreaterThan(1)
  })

  it('do not run for same-tenant nesting, withOverrides or withoutTenant', async () => {
    const t = tenancyWith(['acme', 'globex'])
    const log: string[] = []
    t.onEnter(({ tenant }) => log.push(`enter ${tenant}`))
    t.onLeave(({ tenant }) => log.push(`leave ${tenant}`))
    await t.withTenant('acme', async () => {
      await t.withTenant('acme', () => t.withOverrides({ x: 1 }, () => t.withoutTenant(() => 1)))
      await t.withTenant('globex', () => log.push('in globex'), { allowSwitch: true })
    })
    expect(log).toEqual(['enter acme', 'enter globex', 'in globex', 'leave globex', 'leave acme'])
  })

  it('a throwing onEnter refuses the entry: fn does not run, onLeave reports it, holds are released', async () => {
    const t = tenancyWith(['acme', 'suspended'])
    let disposed = 0
    t.defineResource('db', {
      create: (tenant) => ({ tenant }),
      dispose: () => {
        disposed++
      },
      eager: true,
      cap: 0,
    })
    const leaves: TenantLeaveEvent[] = []
    t.onEnter(({ tenant }) => {
      if (tenant === 'suspended') throw new Error('tenant suspended')
    })
    t.onLeave((e) => leaves.push(e))
    let ran = false
    await expect(
      t.withTenant('suspended', () => {
        ran = true
      }),
    ).rejects.toThrow('tenant suspended')
    expect(ran).toBe(false)
    expect(leaves).toMatchObject([{ tenant: 'suspended', failed: true }])
    expect((leaves[0]!.error as Error).message).toBe('tenant suspended')
    expect(disposed).toBe(1) // cap 0: the scope's hold was released, so the instance went
    expect(() => t.enterScope('suspended')).toThrow('tenant suspended')
    expect(disposed).toBe(2)
    expect(await t.withTenant('acme', () => 'ok')).toBe('ok')
  })

  it('onLeave sees a failing fn; its own errors go to onError and do not change the outcome', async () => {
    const reported: unknown[] = []
    const t = tenancyWith(['acme'], { onError: (e) => reported.push(e) })
    const seen: [boolean, unknown][] = []
    t.onLeave((e) => seen.push([e.failed, e.error]))
    t.onLeave(() => {
      throw new Error('metrics down')
    })
    const boom = new Error('boom')
    await expect(
      t.withTenant('acme', async () => {
        throw boom
      }),
    ).rejects.toBe(boom)
    expect(await t.withTenant('acme', () => 7)).toBe(7)
    expect(seen).toEqual([
      [true, boom],
      [false, undefined],
    ])
    expect(reported.map((e) => (e as Error).message)).toEqual(['metrics down', 'metrics down'])
  })

  it('enterScope runs onEnter at open and onLeave once at close', async () => {
    const t = tenancyWith(['acme'])
    const log: string[] = []
    t.onEnter(({ tenant }) => log.push(`enter ${tenant}`))
    t.onLeave(({ tenant }) => log.push(`leave ${tenant} ${t.currentTenant()}`))
    const scope = await t.enterScope('acme')
    scope.run(() => log.push(`run ${t.currentTenant()}`))
    scope.close()
    scope.close()
    expect(log).toEqual(['enter acme', 'run acme', 'leave acme acme'])
  })

  it('removing a hook stops it; a scope keeps the hooks it entered with', async () => {
    const t = tenancyWith(['acme'])
    const log: string[] = []
    const offEnter = t.onEnter(() => log.push('enter'))
    const offLeave = t.onLeave(() => log.push('leave'))
    await t.withTenant('acme', () => {
      offLeave() // removed mid-scope: this scope still gets its leave
      offLeave()
    })
    offEnter()
    await t.withTenant('acme', () => log.push('plain'))
    expect(log).toEqual(['enter', 'leave', 'plain'])
    expect(() => t.onEnter(undefined as never)).toThrow(
      expect.objectContaining({ code: 'TENANTRY_CONFIG' }),
    )
  })
})
