import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import * as main from '@tenantry/context'
import { afterAll, describe, expect, it } from 'vitest'

type Context = typeof main

const dirs: string[] = []
/** Loads a separate copy of the package's source, as a second install would. */
async function loadCopy(): Promise<Context> {
  const dir = mkdtempSync(join(tmpdir(), 'tenantry-copy-'))
  dirs.push(dir)
  cpSync(join(import.meta.dirname, '..', 'src'), dir, { recursive: true })
  return (await import(/* @vite-ignore */ pathToFileURL(join(dir, 'index.ts')).href)) as Context
}

afterAll(async () => {
  await main.tenancy.reset()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

describe('two installed copies of @tenantry/context', () => {
  it('are really separate module instances that share one context', async () => {
    const a = await loadCopy()
    const b = await loadCopy()
    expect(a.Tenancy).not.toBe(b.Tenancy)
    expect(a.Tenancy).not.toBe(main.Tenancy)
    expect(a.tenancy).toBe(b.tenancy)
    expect(a.tenancy).toBe(main.tenancy)

    a.defineResource('db', { create: (tenant) => `db:${tenant}` })
    const seen = await a.withTenant('acme', async () => {
      await Promise.resolve()
      return [b.currentTenant(), main.currentTenant(), b.getDb(), main.getResource('db')]
    })
    expect(seen).toEqual(['acme', 'acme', 'db:acme', 'db:acme'])

    // The shared tenancy's errors come from whichever copy created it: match them by code.
    const error = await b.withTenant('a', () => a.withTenant('b', () => 1)).catch((e) => e)
    expect(error instanceof a.TenantSwitchError && error instanceof b.TenantSwitchError).toBe(false)
    expect(a.isTenantryError(error, 'TENANTRY_TENANT_SWITCH')).toBe(true)
    expect(b.isTenantryError(error, 'TENANTRY_TENANT_SWITCH')).toBe(true)
  })
})
