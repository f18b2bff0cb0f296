// The real executable as a child process: node --conditions=tenantry-source --import tsx
// bin.ts, in a folder with a tenantry.config.ts on @tenantry/sqlite. Each spawn costs about a
// second, so independent runs go in parallel.
import { spawn } from 'node:child_process'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { tempDir } from '@tenantry/test-utils'
import { beforeAll, describe, expect, it } from 'vitest'
import { EXIT } from '../src/index.js'
import { poison, storeOn, v1 } from './helpers.js'

const here = dirname(fileURLToPath(import.meta.url))
const bin = resolve(here, '../src/bin.ts')
// tsx is a root dev dependency; an absolute URL, since the child runs in a temp folder.
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href.replace(
  /\/dist\/.*$/,
  '/dist/loader.mjs',
)

interface Result {
  code: number | null
  stdout: string
  stderr: string
}

function tenantry(cwd: string, args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((done, fail) => {
    const child = spawn(
      process.execPath,
      ['--conditions=tenantry-source', '--import', tsx, bin, ...args],
      { cwd, env: { ...process.env, ...env, NO_COLOR: '1' }, stdio: ['pipe', 'pipe', 'pipe'] },
    )
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c) => (stdout += c))
    child.stderr.on('data', (c) => (stderr += c))
    child.stdin.end() // not a terminal
    child.on('error', fail)
    child.on('close', (code) => done({ code, stdout, stderr }))
  })
}

// The app: tenants under ./data; SCHEMA=2 adds migration 002_b (as a deploy would).
const CONFIG = `import { createTenantDatabases } from '@tenantry/sqlite'
import type { Migration } from 'kysely'

const migrations: Record<string, Migration> = {
  '001_a': { up: (db) => db.schema.createTable('a').addColumn('id', 'integer').execute() },
}
if (process.env.SCHEMA === '2')
  migrations['002_b'] = { up: (db) => db.schema.createTable('b').addColumn('id', 'integer').execute() }

export default createTenantDatabases({ root: './data', migrations })
`

const app = join(tempDir('tenantry-cli-'), 'app')
const empty = join(tempDir('tenantry-cli-'), 'empty')

beforeAll(() => {
  mkdirSync(app)
  mkdirSync(empty)
  writeFileSync(join(app, 'tenantry.config.ts'), CONFIG)
  // The config imports @tenantry/sqlite and kysely: resolve them from this package.
  symlinkSync(resolve(here, '../node_modules'), join(app, 'node_modules'), 'dir')
})

describe('tenantry (child process)', () => {
  it('create, list, info with exit code 0', async () => {
    const [a, b, c] = await Promise.all(
      ['alpha', 'beta', 'gamma'].map((t) => tenantry(app, ['create', t])),
    )
    expect(a).toMatchObject({ code: 0, stderr: '' })
    expect(a!.stdout).toMatch(
      /^Created tenant "alpha" at .*data.*alpha.*db\.sqlite3 \(1 migration applied\)\.\n$/,
    )
    expect([b!.code, c!.code]).toEqual([0, 0])
    const [list, info] = await Promise.all([
      tenantry(app, ['list']),
      tenantry(app, ['info', 'beta', '--json']),
    ])
    expect(list).toEqual({ code: 0, stdout: 'alpha\nbeta\ngamma\n', stderr: '' })
    expect(JSON.parse(info.stdout)).toMatchObject({
      tenant: 'beta',
      migrations: ['001_a'],
      pending: [],
    })
  })

  it('migrate --all off a terminal: plain progress lines, a failure reported at the end, exit 7', async () => {
    await poison(join(app, 'data'), 'beta')
    const r = await tenantry(app, ['migrate', '--all', '--concurrency', '2'], { SCHEMA: '2' })
    expect(r.code).toBe(EXIT.MIGRATION_FAILED)
    const lines = r.stdout.trim().split('\n')
    expect(lines).toHaveLength(4)
    expect(lines.filter((l) => /^\[[1-3]\/3\] (alpha|gamma): applied 002_b$/.test(l))).toHaveLength(
      2,
    )
    expect(lines.filter((l) => /^\[[1-3]\/3\] beta: FAILED: .*002_b/.test(l))).toHaveLength(1)
    expect(lines[3]).toBe('3 tenants: 2 migrated, 0 up to date, 1 failed.')
    expect(r.stderr).toMatch(/^tenantry: beta: Migrating tenant "beta" failed in migration "002_b"/)
    expect(r.stderr).not.toContain('Migrating |') // no bar off a terminal
  })

  it('refuses to destroy without --yes off a terminal (exit 2), destroys with --yes', async () => {
    const refused = await tenantry(app, ['destroy', 'gamma'])
    expect(refused.code).toBe(EXIT.USAGE)
    expect(refused.stderr).toBe(
      'tenantry: Refusing to destroy "gamma" without confirmation: stdin is not a terminal. Pass --yes to confirm.\n',
    )
    const done = await tenantry(app, ['destroy', 'gamma', '--yes'])
    expect(done).toEqual({ code: 0, stdout: 'Destroyed tenant "gamma".\n', stderr: '' })
    expect(await storeOn(join(app, 'data'), v1).list()).toEqual(['alpha', 'beta'])
  })

  it('distinct exit codes for usage, config, bad name and unknown tenant', async () => {
    const [usage, config, bad, unknown] = await Promise.all([
      tenantry(app, ['frobnicate']),
      tenantry(empty, ['list']),
      tenantry(app, ['create', 'Not_A_Label']),
      tenantry(app, ['info', 'nobody']),
    ])
    expect(usage.code).toBe(EXIT.USAGE)
    expect(usage.stderr).toBe(
      'tenantry: unknown command \'frobnicate\' (run "tenantry --help" for usage)\n',
    )
    expect(config.code).toBe(EXIT.CONFIG)
    expect(config.stderr).toContain('No tenantry.config.ts')
    expect(bad.code).toBe(EXIT.BAD_NAME)
    expect(bad.stderr).toContain('Invalid tenant name "Not_A_Label"')
    expect(unknown.code).toBe(EXIT.UNKNOWN_TENANT)
    expect(unknown.stderr).toContain('Unknown tenant "nobody"')
    for (const r of [usage, config, bad, unknown]) expect(r.stdout).toBe('')
  })
})
