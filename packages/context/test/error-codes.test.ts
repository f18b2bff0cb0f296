// docs/errors.md and the code agree: every code registered in a TenantryErrorCodes interface
// (the core's own, or a package's declaration merging) has a section, and every section is a
// registered code.
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..', '..', '..')

function sourceFiles(dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'dist') out.push(...sourceFiles(path))
    } else if (/\.(ts|mts|tsx)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(path)
  }
  return out
}

/** Code → the files that register it, from every `interface TenantryErrorCodes { ... }`. */
function registeredCodes(): Map<string, string[]> {
  const codes = new Map<string, string[]>()
  for (const group of ['packages', 'examples']) {
    for (const pkg of readdirSync(join(root, group), { withFileTypes: true })) {
      if (!pkg.isDirectory()) continue
      const src = join(root, group, pkg.name, 'src')
      let files: string[]
      try {
        files = sourceFiles(src)
      } catch {
        continue // a package without src/
      }
      for (const file of files) {
        // Comments may show an augmentation as an example: only real declarations count.
        const text = readFileSync(file, 'utf8')
          .replace(/\/\*[\s\S]*?\*\//g, '')
          .replace(/^\s*\/\/.*$/gm, '')
        for (const block of text.matchAll(/interface\s+TenantryErrorCodes\s*\{([^}]*)\}/g)) {
          for (const m of block[1]!.matchAll(/['"]?(TENANTRY_[A-Z0-9_]+)['"]?\s*\??\s*:/g)) {
            const list = codes.get(m[1]!) ?? []
            list.push(relative(root, file))
            codes.set(m[1]!, list)
          }
        }
      }
    }
  }
  return codes
}

function documentedCodes(): string[] {
  const page = readFileSync(join(root, 'docs', 'errors.md'), 'utf8')
  return [...page.matchAll(/^#{2,4}\s+`?(TENANTRY_[A-Z0-9_]+)`?\s*$/gm)].map((m) => m[1]!)
}

describe('docs/errors.md', () => {
  const registered = registeredCodes()
  const documented = documentedCodes()

  it('finds the registrations (the scan itself works)', () => {
    expect(registered.size).toBeGreaterThan(30)
    expect(registered.get('TENANTRY_NO_TENANT')).toEqual(['packages/context/src/errors.ts'])
    // The example inside the core's TSDoc comment is not a registration.
    expect(registered.get('TENANTRY_CACHE_KEY')).toEqual(['packages/cache/src/index.ts'])
  })

  it('has a section for every registered code', () => {
    const missing = [...registered.keys()].filter((c) => !documented.includes(c)).sort()
    expect(missing, 'codes registered in source but missing from docs/errors.md').toEqual([])
  })

  it('lists no code that no source registers, and each code once', () => {
    const stale = documented.filter((c) => !registered.has(c)).sort()
    expect(stale, 'codes in docs/errors.md that no TenantryErrorCodes registers').toEqual([])
    const twice = documented.filter((c, i) => documented.indexOf(c) !== i)
    expect(twice).toEqual([])
  })

  it('registers each code in one package only', () => {
    const shared = [...registered].filter(([, files]) => files.length > 1)
    expect(shared).toEqual([])
  })
})
