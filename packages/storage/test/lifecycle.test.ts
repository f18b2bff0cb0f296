import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TenantLifecycle } from '@tenantry/context'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { attachStorage, tenantFilesDir } from '../src/index.js'

let root: string
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'tenantry-storage-lc-'))
})
afterEach(() => rm(root, { recursive: true, force: true }))

async function seed(tenant: string): Promise<string> {
  const dir = tenantFilesDir(root, tenant)
  await mkdir(join(dir, 'a'), { recursive: true })
  await writeFile(join(dir, 'a', 'x.txt'), tenant)
  return dir
}

describe('attachStorage', () => {
  it('removes the tenant files on destroyed and on creating, and no other tenant files', async () => {
    const lifecycle = new TenantLifecycle()
    attachStorage({ lifecycle }, { root })
    for (const event of ['destroyed', 'creating'] as const) {
      const acme = await seed('acme')
      const globex = await seed('globex')
      await lifecycle.emit(event, { tenant: 'acme' })
      expect(existsSync(acme)).toBe(false)
      expect(existsSync(join(root, 'tenants', 'acme'))).toBe(false)
      expect(existsSync(join(globex, 'a', 'x.txt'))).toBe(true)
    }
  })

  it('registers the files as a file set backups carry; detach undoes all of it', async () => {
    const lifecycle = new TenantLifecycle()
    const detach = attachStorage({ lifecycle }, { root })
    expect(lifecycle.files().map((s) => [s.name, s.dir('acme')])).toEqual([
      ['storage', tenantFilesDir(root, 'acme')],
    ])
    detach()
    const dir = await seed('acme')
    await lifecycle.emit('destroyed', { tenant: 'acme' })
    expect(existsSync(dir)).toBe(true)
    expect(lifecycle.files()).toEqual([])
  })
})
