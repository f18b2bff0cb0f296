// The commands in-process: output, exit codes, confirmation, progress, partial failures.
import { PassThrough } from 'node:stream'
import { tempDir } from '@tenantry/test-utils'
import { describe, expect, it } from 'vitest'
import { EXIT } from '../src/index.js'
import { cli, poison, storeOn, v1, v2 } from './helpers.js'

const fresh = () => {
  const root = tempDir('tenantry-cli-')
  return { root, loadStore: async () => storeOn(root) }
}

describe('list, create, info', () => {
  const { root, loadStore } = fresh()

  it('lists nothing at first (a note on stderr, nothing on stdout)', async () => {
    expect(await cli(['list'], { loadStore })).toEqual({
      code: 0,
      stdout: '',
      stderr: 'No tenants.\n',
    })
    expect((await cli(['list', '--json'], { loadStore })).stdout).toBe('[]\n')
  })

  it('creates tenants, migrated; refuses duplicates and bad names with their codes', async () => {
    const r = await cli(['create', 'acme'], { loadStore })
    expect(r.code).toBe(EXIT.OK)
    expect(r.stdout).toMatch(
      /^Created tenant "acme" at .*acme.*db\.sqlite3 \(1 migration applied\)\.\n$/,
    )
    expect((await cli(['create', 'beta', '--json'], { loadStore })).stdout).toContain(
      '"tenant":"beta"',
    )
    const dup = await cli(['create', 'acme'], { loadStore })
    expect(dup.code).toBe(EXIT.TENANT_EXISTS)
    expect(dup.stderr).toMatch(/^tenantry: .*acme.*\n$/)
    const bad = await cli(['create', 'Bad_Name'], { loadStore })
    expect(bad).toMatchObject({ code: EXIT.BAD_NAME, stdout: '' })
    expect(bad.stderr).toContain('Invalid tenant name "Bad_Name"')
    expect((await cli(['create', '../etc'], { loadStore })).code).toBe(EXIT.BAD_NAME)
    expect((await cli(['list'], { loadStore })).stdout).toBe('acme\nbeta\n')
    expect(JSON.parse((await cli(['list', '--json'], { loadStore })).stdout)).toEqual([
      'acme',
      'beta',
    ])
  })

  it('info shows location, size, applied and pending migrations', async () => {
    const text = await cli(['info', 'acme'], { loadStore })
    expect(text.code).toBe(0)
    expect(text.stdout).toContain(`location:   ${root}`)
    expect(text.stdout).toMatch(/size: +[\d.]+ kB \(\d+ bytes\)/)
    expect(text.stdout).toContain('migrations: 1 applied, 0 pending')
    expect(text.stdout).toContain('applied:    001_a')
    const json = JSON.parse(
      (await cli(['info', 'acme', '--json'], { loadStore: async () => storeOn(root, v2) })).stdout,
    )
    expect(json).toMatchObject({ tenant: 'acme', migrations: ['001_a'], pending: ['002_b'] })
    expect(json.size).toBeGreaterThan(0)
    const missing = await cli(['info', 'nope'], { loadStore })
    expect(missing.code).toBe(EXIT.UNKNOWN_TENANT)
    expect(missing.stderr).toContain('Unknown tenant "nope"')
  })
})

describe('migrate', () => {
  it('one tenant: applies, then reports up to date; unknown tenant and usage errors', async () => {
    const { root } = fresh()
    await storeOn(root).createTenant('acme')
    const loadStore = async () => storeOn(root, v2)
    expect(await cli(['migrate', 'acme'], { loadStore })).toMatchObject({
      code: 0,
      stdout: 'acme: applied 002_b\n',
    })
    expect((await cli(['migrate', 'acme'], { loadStore })).stdout).toBe('acme: up to date\n')
    expect(JSON.parse((await cli(['migrate', 'acme', '--json'], { loadStore })).stdout)).toEqual({
      tenant: 'acme',
      applied: [],
    })
    expect((await cli(['migrate', 'nope'], { loadStore })).code).toBe(EXIT.UNKNOWN_TENANT)
    const none = await cli(['migrate'], { loadStore })
    expect(none).toMatchObject({
      code: EXIT.USAGE,
      stderr: 'tenantry: migrate needs a tenant name, --all or --tenants a,b.\n',
    })
    expect((await cli(['migrate', 'acme', '--all'], { loadStore })).code).toBe(EXIT.USAGE)
    const conc = await cli(['migrate', '--all', '--concurrency', '0'], { loadStore })
    expect(conc.code).toBe(EXIT.USAGE)
    expect(conc.stderr).toContain('expected a whole number of at least 1')
  })

  it('a failing tenant does not stop the others; it is reported and the exit code is 7', async () => {
    const { root } = fresh()
    const setup = storeOn(root)
    for (const t of ['t1', 't2', 't3', 't4']) await setup.createTenant(t)
    await setup.close()
    await poison(root, 't2')
    const loadStore = async () => storeOn(root, v2)

    const r = await cli(['migrate', '--all', '--concurrency', '2'], { loadStore })
    expect(r.code).toBe(EXIT.MIGRATION_FAILED)
    const lines = r.stdout.trim().split('\n')
    expect(lines).toHaveLength(5)
    expect(
      lines
        .slice(0, 4)
        .map((l) => l.slice(0, 6))
        .sort(),
    ).toEqual(['[1/4] ', '[2/4] ', '[3/4] ', '[4/4] '])
    for (const t of ['t1', 't3', 't4'])
      expect(lines).toContainEqual(
        expect.stringMatching(new RegExp(`^\\[\\d/4\\] ${t}: applied 002_b$`)),
      )
    expect(lines).toContainEqual(
      expect.stringMatching(/^\[\d\/4\] t2: FAILED: .*002_b.*already exists/),
    )
    expect(lines[4]).toBe('4 tenants: 3 migrated, 0 up to date, 1 failed.')
    expect(r.stderr).toMatch(/^tenantry: t2: Migrating tenant "t2" failed in migration "002_b"/)

    const again = await cli(['migrate', '--all', '--json'], { loadStore })
    expect(again.code).toBe(EXIT.MIGRATION_FAILED)
    const results = JSON.parse(again.stdout)
    expect(
      results.map((x: { tenant: string; applied: string[] }) => [x.tenant, x.applied]),
    ).toEqual([
      ['t1', []],
      ['t2', []],
      ['t3', []],
      ['t4', []],
    ])
    expect(results[1].error).toContain('already exists')
    expect(results[0].error).toBeUndefined()
  })

  it('on a terminal, draws a progress bar on stderr instead of lines', async () => {
    const { root } = fresh()
    const setup = storeOn(root)
    for (const t of ['a1', 'a2', 'a3']) await setup.createTenant(t)
    await setup.close()
    const r = await cli(['migrate', '--all'], {
      loadStore: async () => storeOn(root, v2),
      ttyErr: true,
    })
    expect(r.code).toBe(0)
    expect(r.stdout).toBe('3 tenants: 3 migrated, 0 up to date, 0 failed.\n')
    expect(r.stderr).toContain('Migrating |')
    expect(r.stderr).toContain('3/3 tenants')
    expect(r.stderr).not.toContain('[1/3]')
  })

  it('with no tenants, says so and succeeds', async () => {
    const { loadStore } = fresh()
    expect(await cli(['migrate', '--all'], { loadStore })).toMatchObject({
      code: 0,
      stdout: '0 tenants: 0 migrated, 0 up to date, 0 failed.\n',
    })
  })
})

describe('destroy', () => {
  const tty = (answer?: string) => {
    const stdin = Object.assign(new PassThrough(), { isTTY: true })
    if (answer !== undefined) stdin.end(`${answer}\n`)
    return stdin
  }

  it('refuses without --yes when stdin is not a terminal, and keeps the tenant', async () => {
    const { root, loadStore } = fresh()
    await storeOn(root).createTenant('acme')
    const r = await cli(['destroy', 'acme'], { loadStore })
    expect(r.code).toBe(EXIT.USAGE)
    expect(r.stderr).toContain('stdin is not a terminal. Pass --yes to confirm.')
    expect((await cli(['list'], { loadStore })).stdout).toBe('acme\n')
  })

  it('asks on a terminal: the tenant name confirms, anything else aborts (exit 8)', async () => {
    const { root, loadStore } = fresh()
    await storeOn(root).createTenant('acme')
    const no = await cli(['destroy', 'acme'], { loadStore, stdin: tty('y') })
    expect(no.code).toBe(EXIT.ABORTED)
    expect(no.stderr).toContain('Type the tenant name to confirm:')
    expect(no.stderr).toContain('Aborted: "acme" was not destroyed.')
    expect((await cli(['list'], { loadStore })).stdout).toBe('acme\n')
    const yes = await cli(['destroy', 'acme'], { loadStore, stdin: tty('acme') })
    expect(yes).toMatchObject({ code: 0, stdout: 'Destroyed tenant "acme".\n' })
    expect((await cli(['list', '--json'], { loadStore })).stdout).toBe('[]\n')
  })

  it('end of input at the question (Ctrl-D) aborts with exit 8 instead of hanging', async () => {
    const { root, loadStore } = fresh()
    await storeOn(root).createTenant('acme')
    const stdin = tty()
    stdin.end()
    const r = await cli(['destroy', 'acme'], { loadStore, stdin })
    expect(r.code).toBe(EXIT.ABORTED)
    expect(r.stderr).toContain('Aborted: "acme" was not destroyed.')
    expect((await cli(['list'], { loadStore })).stdout).toBe('acme\n')
  }, 5000)

  it('--yes skips the question; unknown tenants and bad names have their codes', async () => {
    const { root, loadStore } = fresh()
    await storeOn(root).createTenant('acme')
    expect(await cli(['destroy', 'acme', '--yes'], { loadStore })).toMatchObject({
      code: 0,
      stdout: 'Destroyed tenant "acme".\n',
    })
    expect((await cli(['destroy', 'acme', '-y'], { loadStore })).code).toBe(EXIT.UNKNOWN_TENANT)
    expect((await cli(['destroy', 'No!', '-y'], { loadStore })).code).toBe(EXIT.BAD_NAME)
  })
})

describe('usage', () => {
  const { loadStore } = fresh()

  it('help and unknown commands', async () => {
    const help = await cli(['--help'], { loadStore })
    expect(help.code).toBe(0)
    for (const c of ['list', 'create', 'destroy', 'migrate', 'info', '--config'])
      expect(help.stdout).toContain(c)
    const bad = await cli(['frobnicate'], { loadStore })
    expect(bad.code).toBe(EXIT.USAGE)
    expect(bad.stderr).toContain("unknown command 'frobnicate'")
    expect((await cli(['create'], { loadStore })).code).toBe(EXIT.USAGE)
    expect((await cli(['list', 'extra'], { loadStore })).code).toBe(EXIT.USAGE)
    expect((await cli(['list', '--nope'], { loadStore })).code).toBe(EXIT.USAGE)
  })

  it('exports the documented exit codes', () => {
    expect(EXIT).toEqual({
      OK: 0,
      FAILURE: 1,
      USAGE: 2,
      CONFIG: 3,
      BAD_NAME: 4,
      UNKNOWN_TENANT: 5,
      TENANT_EXISTS: 6,
      MIGRATION_FAILED: 7,
      ABORTED: 8,
    })
    expect(v1).toBeDefined()
  })
})
