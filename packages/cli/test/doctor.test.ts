// `tenantry doctor [--fix]`: says what a store's repair() found, fixes it with --fix, and exits
// 1 while anything is left unfixed.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '@tenantry/test-utils'
import { describe, expect, it } from 'vitest'
import { EXIT } from '../src/index.js'
import { cli, storeOn } from './helpers.js'

describe('tenantry doctor', () => {
  it('reports orphans, fixes them with --fix, then finds nothing', async () => {
    const root = tempDir()
    const loadStore = async () => storeOn(root)
    expect(await cli(['create', 'acme'], { loadStore })).toMatchObject({ code: 0 })
    expect(await cli(['doctor'], { loadStore })).toEqual({
      code: 0,
      stdout: 'No problems found.\n',
      stderr: '',
    })
    writeFileSync(join(root, 'tenants', 'acme', 'db.sqlite3.lock'), '')
    mkdirSync(join(root, 'tenants', 'ghost'))
    writeFileSync(join(root, 'tenants', 'ghost', 'db.sqlite3.creating'), 'half')

    const found = await cli(['doctor'], { loadStore })
    expect(found.code).toBe(EXIT.FAILURE)
    expect(found.stdout).toContain('found  orphan-lock  tenants/acme/db.sqlite3.lock')
    expect(found.stdout).toContain('found  orphan-creating  tenants/ghost/db.sqlite3.creating')
    expect(found.stdout).toContain('2 finding(s): 0 fixed, 2 left (run with --fix')

    const fixed = await cli(['doctor', '--fix', '--json'], { loadStore })
    expect(fixed.code).toBe(0)
    expect(
      (JSON.parse(fixed.stdout) as { kind: string; fixed: boolean }[])
        .map((f) => [f.kind, f.fixed])
        .sort(),
    ).toEqual([
      ['half-made', true],
      ['orphan-creating', true],
      ['orphan-lock', true],
    ])
    expect((await cli(['doctor'], { loadStore })).stdout).toBe('No problems found.\n')
  })
})
