// Backups stream: a tenant with a 128 MiB file backs up and restores in a child process whose
// peak RSS grows by well under half the file's size (it stays near 35 MiB whatever the size,
// where reading files whole grew by the file's size on backup and twice that on restore).
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { tempDir } from '@tenantry/test-utils'
import { describe, expect, it } from 'vitest'

const repoRoot = join(import.meta.dirname, '..', '..', '..')
const MIB = 128

describe('archives stream files', () => {
  it(`backs up and restores a ${MIB} MiB file with the peak RSS growing by less than half of it`, () => {
    const root = tempDir('tenantry-archive-memory-')
    const child = spawnSync(
      process.execPath,
      [
        '--conditions=tenantry-source',
        '--import',
        'tsx',
        join(import.meta.dirname, 'fixtures', 'archive-memory.ts'),
        root,
        String(MIB),
      ],
      { cwd: repoRoot, encoding: 'utf8', timeout: 300_000 },
    )
    expect(child.stderr).toBe('')
    const grew = JSON.parse(child.stdout) as { backup: number; restore: number; restored: number }
    expect(grew.restored).toBe(MIB * 1024 * 1024)
    // maxRSS is in KiB.
    expect(grew.backup).toBeLessThan((MIB * 1024) / 2)
    expect(grew.restore).toBeLessThan((MIB * 1024) / 2)
  })
})
