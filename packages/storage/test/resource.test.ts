import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTenancy, type Tenancy } from '@tenantry/context'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  destroyTenantFiles,
  localStorageResource,
  type Storage,
  StoragePathError,
  tenantFilesDir,
} from '../src/index.js'

let root: string
let tenancy: Tenancy
const storage = () => tenancy.getResource('storage') as Storage

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'tenantry-storage-res-'))
  tenancy = createTenancy({ resources: { storage: localStorageResource({ root, fsync: false }) } })
})

afterEach(async () => {
  await tenancy.reset()
  await rm(root, { recursive: true, force: true })
})

describe('localStorageResource', () => {
  it('gives each tenant its own folder under root/tenants/{tenant}/files', async () => {
    await tenancy.withTenant('acme', () => storage().put('logo.png', 'acme logo'))
    await tenancy.withTenant('globex', () => storage().put('logo.png', 'globex logo'))
    expect(await readFile(join(root, 'tenants', 'acme', 'files', 'logo.png'), 'utf8')).toBe(
      'acme logo',
    )
    expect(tenantFilesDir(root, 'globex')).toBe(join(root, 'tenants', 'globex', 'files'))
    const seen = await Promise.all(
      ['acme', 'globex'].map((t) =>
        tenancy.withTenant(t, async () => (await storage().get('logo.png')).toString()),
      ),
    )
    expect(seen).toEqual(['acme logo', 'globex logo'])
    await tenancy.withTenant('initech', async () => {
      expect(await storage().exists('logo.png')).toBe(false)
      expect(await storage().list()).toEqual([])
    })
  })

  it('is tenant-only by default, with an optional shared folder outside tenants', async () => {
    expect(() => storage()).toThrow(expect.objectContaining({ code: 'TENANTRY_NO_TENANT' }))
    const shared = join(root, 'shared')
    tenancy.defineResource('storage', localStorageResource({ root, sharedDir: shared }))
    await storage().put('robots.txt', 'User-agent: *')
    expect(await readFile(join(shared, 'robots.txt'), 'utf8')).toBe('User-agent: *')
  })

  it('refuses tenant names that are not a safe folder, even under a permissive naming rule', async () => {
    // The GHSA-pmwx-rm49-xv39 class: a tenant name interpolated into a path.
    const loose = createTenancy({
      naming: { rule: () => true },
      resources: { storage: localStorageResource({ root }) },
    })
    try {
      for (const tenant of ['%2e%2e', '.hidden', '\uff0e\uff0e', 'a%2fb', '%252e%252e']) {
        const error = await loose
          .withTenant(tenant, () => loose.getResource('storage'))
          .catch((e: unknown) => e)
        expect(error).toBeInstanceOf(StoragePathError)
      }
      for (const tenant of ['..', '.', '', 'a/b', 'a\\b', '%2e%2e', 'x\u0000']) {
        expect(() => tenantFilesDir(root, tenant)).toThrow(StoragePathError)
        await expect(destroyTenantFiles(root, tenant)).rejects.toBeInstanceOf(StoragePathError)
      }
      expect(await readdir(root)).toEqual([])
    } finally {
      await loose.reset()
    }
  })
})

describe('a symlinked tenant folder (tenants/evil -> tenants/victim)', () => {
  it('is refused for reads, writes and lists, and victim keeps its files', async () => {
    await tenancy.withTenant('victim', () => storage().put('secret.txt', 'victim only'))
    await symlink(join(root, 'tenants', 'victim'), join(root, 'tenants', 'evil'))
    const refused = (p: Promise<unknown>) =>
      p.then(
        () => 'served',
        (e: unknown) => (e instanceof StoragePathError ? 'refused' : String(e)),
      )
    const outcomes = await tenancy.withTenant('evil', () =>
      Promise.all([
        refused(storage().get('secret.txt')),
        refused(storage().list()),
        refused(storage().put('planted.txt', 'x')),
        refused(storage().exists('secret.txt')),
      ]),
    )
    expect(outcomes).toEqual(['refused', 'refused', 'refused', 'refused'])
    expect(await readdir(join(root, 'tenants', 'victim', 'files'))).toEqual(['secret.txt'])
  })

  it('is refused when the tenants folder itself is a symlink', async () => {
    const elsewhere = join(root, 'elsewhere')
    await mkdir(join(elsewhere, 'acme', 'files'), { recursive: true })
    await writeFile(join(elsewhere, 'acme', 'files', 'x.txt'), 'x')
    await symlink(elsewhere, join(root, 'tenants'))
    await expect(tenancy.withTenant('acme', () => storage().get('x.txt'))).rejects.toBeInstanceOf(
      StoragePathError,
    )
  })
})

describe('destroyTenantFiles', () => {
  it("removes the tenant's files and nobody else's", async () => {
    await tenancy.withTenant('acme', () => storage().put('a/b/c.txt', 'x'))
    await tenancy.withTenant('globex', () => storage().put('keep.txt', 'y'))
    await writeFile(join(root, 'tenants', 'acme', 'db.sqlite3'), 'db')

    await destroyTenantFiles(root, 'acme')
    expect(await readdir(join(root, 'tenants', 'acme'))).toEqual(['db.sqlite3'])
    await rm(join(root, 'tenants', 'acme', 'db.sqlite3'))
    await destroyTenantFiles(root, 'acme') // idempotent; removes the now-empty tenant folder
    expect(await readdir(join(root, 'tenants'))).toEqual(['globex'])
    await destroyTenantFiles(root, 'never-existed')
    await tenancy.withTenant('globex', async () => {
      expect((await storage().get('keep.txt')).toString()).toBe('y')
    })
  })

  it('deletes symlinks inside the tree without following them', async () => {
    const outside = join(root, 'outside')
    await mkdir(outside)
    await writeFile(join(outside, 'precious.txt'), 'keep me')
    await tenancy.withTenant('acme', () => storage().put('x.txt', 'x'))
    await symlink(outside, join(root, 'tenants', 'acme', 'files', 'link'))
    await destroyTenantFiles(root, 'acme')
    expect(await readFile(join(outside, 'precious.txt'), 'utf8')).toBe('keep me')
  })

  it('refuses to delete through a symlinked tenant folder', async () => {
    const elsewhere = join(root, 'elsewhere')
    await mkdir(join(elsewhere, 'files'), { recursive: true })
    await writeFile(join(elsewhere, 'files', 'x.txt'), 'x')
    await mkdir(join(root, 'tenants'))
    await symlink(elsewhere, join(root, 'tenants', 'acme'))
    await expect(destroyTenantFiles(root, 'acme')).rejects.toBeInstanceOf(StoragePathError)
    expect(await readFile(join(elsewhere, 'files', 'x.txt'), 'utf8')).toBe('x')
  })
})
