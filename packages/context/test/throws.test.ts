// Every error a caller can receive is a TenantryError with a code (see docs/errors.md): no
// package source makes a plain Error, TypeError or RangeError outside this small allowlist.
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..', '..', '..')

/** file → why its plain errors may stay. Each entry must still match, so a fixed one is removed. */
const ALLOWED: Record<string, string> = {
  'packages/postgres/src/held.ts':
    'internal sentinel: never reaches a caller (ABORT rolls back a held transaction)',
}

// test-utils is test code, not a package a user installs.
const SKIPPED_PACKAGES = new Set(['test-utils'])

const PLAIN = /\bnew\s+(Error|TypeError|RangeError)\s*\(/g

function sourceFiles(dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...sourceFiles(path))
    else if (/\.(ts|mts|tsx)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(path)
  }
  return out
}

/** `file:line: text` of each plain error made in `packages/<pkg>/src`, comments ignored. */
function plainThrows(): Map<string, string[]> {
  const found = new Map<string, string[]>()
  for (const pkg of readdirSync(join(root, 'packages'), { withFileTypes: true })) {
    if (!pkg.isDirectory() || SKIPPED_PACKAGES.has(pkg.name)) continue
    let files: string[]
    try {
      files = sourceFiles(join(root, 'packages', pkg.name, 'src'))
    } catch {
      continue // a package without src/
    }
    for (const file of files) {
      // Blank out comments but keep the line breaks, so line numbers stay right.
      const text = readFileSync(file, 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' '))
        .replace(/(^|[^:'"`])\/\/.*$/gm, '$1')
      for (const m of text.matchAll(PLAIN)) {
        const line = text.slice(0, m.index).split('\n').length
        const rel = relative(root, file)
        const list = found.get(rel) ?? []
        list.push(`${rel}:${line}: ${m[0]}`)
        found.set(rel, list)
      }
    }
  }
  return found
}

describe('package sources', () => {
  const found = plainThrows()

  it('make no plain Error / TypeError / RangeError outside the allowlist', () => {
    const offenders = [...found].filter(([file]) => !(file in ALLOWED)).flatMap(([, l]) => l)
    expect(
      offenders,
      'throw a TenantryError subclass with a registered code instead (docs/errors.md)',
    ).toEqual([])
  })

  it('keeps the allowlist tiny: every entry still has a plain error and a reason', () => {
    const stale = Object.keys(ALLOWED).filter((file) => !found.has(file))
    expect(stale, 'allowlisted files without plain errors: remove them from ALLOWED').toEqual([])
    for (const reason of Object.values(ALLOWED)) expect(reason.length).toBeGreaterThan(10)
  })

  it('sees a plain error where there is one (the scan itself works)', () => {
    expect(found.get('packages/postgres/src/held.ts')?.length).toBe(1)
    expect('new  Error (x)'.match(PLAIN)).toHaveLength(1)
    expect('new TenantryError(x)'.match(PLAIN)).toBeNull()
  })
})
