// The operations commands through the real executable as a child process: migrate --status,
// rollback, seed, run (script and shell command), backup --all with retention, export | import,
// clone, destroy leaving no files, console driven through stdin, one-line errors.
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { tempDir } from '@tenantry/test-utils'
import { beforeAll, describe, expect, it } from 'vitest'
import { EXIT } from '../src/index.js'
import { bin, here, type Result, tenantry, tsx } from './bin.js'

/** `tenantry a... | tenantry b...`: the first one's stdout is the second one's stdin. */
function pipeline(cwd: string, a: string[], b: string[]): Promise<[Result, Result]> {
  const start = (args: string[]) =>
    spawn(process.execPath, ['--conditions=tenantry-source', '--import', tsx, bin, ...args], {
      cwd,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
  const left = start(a)
  const right = start(b)
  left.stdin.end()
  left.stdout.pipe(right.stdin)
  const result = (child: ReturnType<typeof start>, captureOut: boolean) =>
    new Promise<Result>((done) => {
      let stdout = ''
      let stderr = ''
      if (captureOut) child.stdout.on('data', (c) => (stdout += c))
      child.stderr.on('data', (c) => (stderr += c))
      child.on('close', (code) => done({ code, stdout, stderr }))
    })
  return Promise.all([result(left, false), result(right, true)])
}

const CONFIG = `import { attachStorage } from '@tenantry/storage'
import { createTenantDatabases } from '@tenantry/sqlite'
import { getDb } from '@tenantry/context'
import type { Migration } from 'kysely'

const migrations: Record<string, Migration> = {
  '001_note': {
    up: (db) => db.schema.createTable('note').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('title', 'text').execute(),
    down: (db) => db.schema.dropTable('note').execute(),
  },
}
if (process.env.SCHEMA === '2')
  migrations['002_tag'] = {
    up: (db) => db.schema.createTable('tag').addColumn('name', 'text').execute(),
    down: (db) => db.schema.dropTable('tag').execute(),
  }

const store = createTenantDatabases({ root: './data', migrations })
attachStorage(store, { root: './data' })

export default {
  store,
  seeds: {
    '01_welcome': () => getDb().insertInto('note').values({ title: 'Welcome' }).execute(),
  },
}
`

const SCRIPT = `import { getDb } from '@tenantry/context'
export default async ({ tenant, args }: { tenant: string; args: string[] }) => {
  await getDb().insertInto('note').values({ title: \`from script \${args.join(' ')}\` }).execute()
  const n = await getDb().selectFrom('note').select((eb) => eb.fn.countAll().as('n')).executeTakeFirst()
  console.log(\`\${tenant} has \${n?.n} notes\`)
}
`

const app = join(tempDir('tenantry-cli-ops-'), 'app')

beforeAll(() => {
  mkdirSync(app)
  writeFileSync(join(app, 'tenantry.config.ts'), CONFIG)
  writeFileSync(join(app, 'count.ts'), SCRIPT)
  symlinkSync(resolve(here, '../node_modules'), join(app, 'node_modules'), 'dir')
})

// Each spawn costs about a second (more on a loaded machine), and these tests chain several.
describe('tenantry operations (child process)', { timeout: 180_000 }, () => {
  it('create --if-not-exists, --version, seed once, run a script and a shell command in each tenant', async () => {
    const created = await Promise.all(['acme', 'globex'].map((t) => tenantry(app, ['create', t])))
    for (const r of created) expect(r.code).toBe(0)
    const again = await tenantry(app, ['create', 'acme', '--if-not-exists'])
    expect(again).toMatchObject({ code: 0, stderr: '' })
    expect(again.stdout).toMatch(/^Tenant "acme" already exists at /)
    const version = await tenantry(app, ['--version'])
    expect(version).toEqual({ code: 0, stdout: '0.1.0\n', stderr: '' })

    const seeded = await tenantry(app, ['seed', '--all'])
    expect(seeded.code).toBe(0)
    // Tenants finish in any order: compare without the [i/n] counters.
    expect(
      seeded.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.replace(/^\[\d\/2\] /, ''))
        .sort(),
    ).toEqual(['acme: ran 1 seed: 01_welcome', 'globex: ran 1 seed: 01_welcome'])
    const reseeded = await tenantry(app, ['seed', '--tenants', 'acme'])
    expect(reseeded.stdout).toBe('[1/1] acme: already seeded\n')

    const script = await tenantry(app, ['run', 'count.ts', 'x', 'y', '--tenants', 'acme,globex'])
    expect(script.code).toBe(0)
    expect(script.stdout).toContain('acme has 2 notes')
    expect(script.stdout).toContain('globex has 2 notes')
    const shell = await tenantry(app, ['run', 'echo tenant=$TENANTRY_TENANT', '--all'])
    expect(shell.code).toBe(0)
    expect(shell.stdout).toContain('tenant=acme\n')
    expect(shell.stdout).toContain('tenant=globex\n')
    const unknown = await tenantry(app, ['run', 'count.ts', '--tenants', 'acme,nobody'])
    expect(unknown.code).toBe(EXIT.UNKNOWN_TENANT)
    expect(unknown.stderr).toMatch(/^tenantry: Unknown tenant "nobody"\. [^\n]*\n$/)
  })

  it('migrate --status, migrate --tenants, rollback --steps', async () => {
    const env = { SCHEMA: '2' }
    const pending = await tenantry(app, ['migrate', '--status', '--all'], { env })
    expect(pending.code).toBe(EXIT.MIGRATION_FAILED)
    expect(pending.stdout).toBe(
      'TENANT  APPLIED  PENDING\nacme          1  1 (002_tag)\nglobex        1  1 (002_tag)\n',
    )
    const some = await tenantry(app, ['migrate', '--tenants', 'acme'], { env })
    expect(some.code).toBe(0)
    expect(some.stdout).toContain('[1/1] acme: applied 002_tag')
    const status = await tenantry(app, ['migrate', '--status', '--all', '--json'], { env })
    expect(JSON.parse(status.stdout)).toEqual([
      { tenant: 'acme', applied: ['001_note', '002_tag'], pending: [] },
      { tenant: 'globex', applied: ['001_note'], pending: ['002_tag'] },
    ])
    const back = await tenantry(app, ['rollback', 'acme', '--steps', '1'], { env })
    expect(back).toMatchObject({ code: 0, stdout: '[1/1] acme: undid 002_tag\n' })
    const after = await tenantry(app, ['migrate', '--status', 'acme'], { env })
    expect(after.stdout).toContain('acme          1  1 (002_tag)')
    const none = await tenantry(app, ['rollback', '--all', '--tenants', 'acme'])
    expect(none.code).toBe(EXIT.USAGE)
    expect(none.stderr).toBe(
      'tenantry: rollback takes one of a tenant name, --all or --tenants a,b.\n',
    )
  })

  it('backup --all with --keep, restore --as, export | import, clone, destroy leaves no files', async () => {
    const files = join(app, 'data', 'tenants', 'acme', 'files')
    mkdirSync(files, { recursive: true })
    writeFileSync(join(files, 'logo.txt'), 'acme logo')
    const dir = join(app, 'backups')
    for (let i = 0; i < 2; i++) {
      const r = await tenantry(app, ['backup', '--all', '--to', 'backups', '--keep', '1'])
      expect(r.code).toBe(0)
      expect(r.stdout).toContain('2 backed up, 0 failed.')
    }
    expect(readdirSync(join(dir, 'acme'))).toHaveLength(1)
    const file = join(dir, 'acme', readdirSync(join(dir, 'acme'))[0]!)
    const refused = await tenantry(app, ['restore', file])
    expect(refused.code).toBe(EXIT.TENANT_EXISTS)
    expect(refused.stderr.split('\n')).toHaveLength(2) // one line and its newline
    const restored = await tenantry(app, ['restore', file, '--as', 'acme-restored'])
    expect(restored.code).toBe(0)
    expect(existsSync(join(app, 'data', 'tenants', 'acme-restored', 'files', 'logo.txt'))).toBe(
      true,
    )

    const [exported, imported] = await pipeline(
      app,
      ['export', 'acme'],
      ['import', '--as', 'acme-imported'],
    )
    expect(exported.code).toBe(0)
    expect(imported).toMatchObject({ code: 0 })
    expect(imported.stderr).toBe(
      'Imported tenant "acme-imported" (exported from "acme" on sqlite).\n',
    )
    const cloned = await tenantry(app, ['clone', 'acme', 'acme-staging'])
    expect(cloned).toEqual({
      code: 0,
      stdout: 'Cloned tenant "acme" into "acme-staging".\n',
      stderr: '',
    })
    const list = await tenantry(app, ['list'])
    expect(list.stdout).toBe('acme\nacme-imported\nacme-restored\nacme-staging\nglobex\n')
    const counts = await tenantry(app, [
      'run',
      'echo ok',
      '--tenants',
      'acme-imported,acme-staging',
    ])
    expect(counts.code).toBe(0)

    const destroyed = await tenantry(app, ['destroy', 'acme', '--yes'])
    expect(destroyed.code).toBe(0)
    expect(existsSync(join(app, 'data', 'tenants', 'acme'))).toBe(false)
    const recreated = await tenantry(app, ['create', 'acme'])
    expect(recreated.code).toBe(0)
    expect(existsSync(files)).toBe(false) // the new acme did not inherit the old one's files
  })

  it('console: a REPL inside the tenant, driven through stdin; TENANTRY_TENANT as the default', async () => {
    const r = await tenantry(app, ['console'], {
      env: { TENANTRY_TENANT: 'globex' },
      stdin: "tenant\ngetDb().selectFrom('note').select('title').orderBy('id').execute()\n.exit\n",
    })
    expect(r.code).toBe(0)
    expect(r.stdout).toContain("'globex'")
    expect(r.stdout).toContain("title: 'Welcome'")
    const none = await tenantry(app, ['console'])
    expect(none.code).toBe(EXIT.USAGE)
    expect(none.stderr).toBe(
      'tenantry: console needs a tenant name (or TENANTRY_TENANT in the environment).\n',
    )
  })
})
