// Finding and loading tenantry.config.*: the accepted default exports and the errors.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '@tenantry/test-utils'
import { describe, expect, it } from 'vitest'
import { EXIT, findConfig, loadConfig } from '../src/index.js'
import { cli } from './helpers.js'

// A duck-typed store (what loadConfig checks for); list() answers `tenants` (an array or a JS
// expression).
const fakeStore = (tenants: string[] | string) => {
  const list = typeof tenants === 'string' ? tenants : JSON.stringify(tenants)
  return `{
  createTenant: async () => {}, destroyTenant: async () => {}, migrateTenant: async () => {},
  tenantInfo: async () => ({}), exists: () => false,
  migrateAllTenants: async () => [], list: async () => ${list},
  close: async () => {},
}`
}

function folder(files: Record<string, string>): string {
  const dir = join(tempDir('tenantry-cli-'), 'app')
  mkdirSync(dir)
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  return dir
}

describe('findConfig', () => {
  it('takes tenantry.config.ts first, then .mts, .js, .mjs', () => {
    const dir = folder({ 'tenantry.config.mjs': '', 'tenantry.config.js': '' })
    expect(findConfig(dir)).toBe(join(dir, 'tenantry.config.js'))
    writeFileSync(join(dir, 'tenantry.config.ts'), '')
    expect(findConfig(dir)).toBe(join(dir, 'tenantry.config.ts'))
  })

  it('--config is relative to the working directory', () => {
    const dir = folder({ 'other.mjs': '' })
    expect(findConfig(dir, 'other.mjs')).toBe(join(dir, 'other.mjs'))
  })

  it('fails with exit code 3 and a hint when there is none', async () => {
    const dir = folder({})
    const r = await cli(['list'], { cwd: dir })
    expect(r.code).toBe(EXIT.CONFIG)
    expect(r.stderr).toContain(`No tenantry.config.ts (or .mts, .js, .mjs) in ${dir}`)
    const missing = await cli(['--config', 'nope.ts', 'list'], { cwd: dir })
    expect(missing.code).toBe(EXIT.CONFIG)
    expect(missing.stderr).toContain(`Config file not found: ${join(dir, 'nope.ts')}`)
  })
})

describe('loadConfig and the default export', () => {
  it('accepts a store, { store }, or a function (sync or async) returning either', async () => {
    const dir = folder({
      'store.mjs': `export default ${fakeStore(['a'])}`,
      'object.mjs': `export default { store: ${fakeStore(['b'])} }`,
      'fn.mjs': `export default async () => ({ store: ${fakeStore(['c'])} })`,
    })
    for (const [file, tenants] of [
      ['store.mjs', ['a']],
      ['object.mjs', ['b']],
      ['fn.mjs', ['c']],
    ] as const) {
      expect(await (await loadConfig(join(dir, file))).list()).toEqual(tenants)
      const r = await cli(['--config', file, 'list'], { cwd: dir })
      expect(r).toMatchObject({ code: 0, stdout: `${tenants[0]}\n` })
    }
  })

  it('loads TypeScript through jiti when Node cannot', async () => {
    const dir = folder({
      'tenantry.config.ts': `const names: string[] = ['ts-tenant']\nexport default { store: ${fakeStore('names')} }\n`,
    })
    const store = await loadConfig(join(dir, 'tenantry.config.ts'), { loader: 'jiti' })
    expect(await store.list()).toEqual(['ts-tenant'])
  })

  it('rejects other exports and broken files with exit code 3', async () => {
    const dir = folder({
      'wrong.mjs': 'export default { root: "./data" }',
      'broken.mjs': 'export default {',
    })
    const wrong = await cli(['-c', 'wrong.mjs', 'list'], { cwd: dir })
    expect(wrong.code).toBe(EXIT.CONFIG)
    expect(wrong.stderr).toContain('must export default a TenantStore')
    const broken = await cli(['-c', 'broken.mjs', 'list'], { cwd: dir })
    expect(broken.code).toBe(EXIT.CONFIG)
    expect(broken.stderr).toContain(`Could not load ${join(dir, 'broken.mjs')}`)
  })
})
