// API reports: one file per public entry point in api/, checked in, so that every change of a
// package's public API is a visible diff. Made by API Extractor from the built .d.ts (run
// `pnpm build` first), plus the `declare module` augmentations each entry point's .d.ts files
// make (error codes registered on @tenantry/context), which API Extractor leaves out.
//   node scripts/api-report.mjs            check: fails, with a diff, when a report is stale
//   node scripts/api-report.mjs --update   rewrite the reports (`pnpm api:update`)
import { spawnSync } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor'
import ts from 'typescript'

const root = join(import.meta.dirname, '..')
const reports = join(root, 'api')
const update = process.argv.includes('--update')
const temp = mkdtempSync(join(tmpdir(), 'tenantry-api-'))
const quiet = { logLevel: 'none' }

/** Every public entry point: { pkg, dir, name (report file stem), dts }. */
function entryPoints() {
  const out = []
  for (const name of readdirSync(join(root, 'packages')).sort()) {
    const dir = join(root, 'packages', name)
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
    if (pkg.private) continue
    // The published exports are the workspace's without the tenantry-source condition: a
    // subpath added to one and not the other would silently vanish from the tarball.
    const published = JSON.stringify(pkg.publishConfig?.exports)
    const expected = JSON.stringify(
      Object.fromEntries(
        Object.entries(pkg.exports).map(([k, v]) => {
          const { 'tenantry-source': _, ...rest } = v
          return [k, rest]
        }),
      ),
    )
    if (published !== expected)
      throw new Error(
        `${pkg.name}: publishConfig.exports must be "exports" without the tenantry-source condition:\n  ${expected}`,
      )
    for (const [sub, target] of Object.entries(pkg.publishConfig?.exports ?? pkg.exports)) {
      const types = typeof target === 'string' ? target : target.types
      const stem = sub === '.' ? name : `${name}-${sub.slice(2).replaceAll('/', '-')}`
      out.push({ pkg, dir, name: stem, dts: join(dir, types) })
    }
  }
  return out
}

/** The `declare module '…' { … }` blocks of the .d.ts files the entry point reaches. */
function augmentations(dts, dir) {
  const seen = new Set()
  const found = []
  const visit = (file) => {
    if (seen.has(file) || !existsSync(file)) return
    seen.add(file)
    const source = ts.createSourceFile(
      file,
      readFileSync(file, 'utf8'),
      ts.ScriptTarget.ES2022,
      true,
    )
    for (const node of source.statements) {
      if (ts.isModuleDeclaration(node) && ts.isStringLiteral(node.name))
        found.push(
          `// ${relative(dir, file)}\n${node.getText(source).replace(/^\s*\/\*\*[\s\S]*?\*\/\n/gm, '')}`,
        )
      const spec =
        (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier
          ? node.moduleSpecifier.text
          : undefined
      if (spec?.startsWith('.')) visit(join(dirname(file), spec.replace(/\.js$/, '.d.ts')))
    }
  }
  visit(dts)
  return found
}

function report(entry) {
  const config = ExtractorConfig.prepare({
    configObject: {
      projectFolder: entry.dir,
      mainEntryPointFilePath: entry.dts,
      compiler: {
        overrideTsconfig: {
          compilerOptions: {
            target: 'ES2022',
            lib: ['ES2023'],
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            strict: true,
            skipLibCheck: true,
            types: ['node'],
          },
          include: [entry.dts],
        },
      },
      apiReport: {
        enabled: true,
        reportFolder: temp,
        reportTempFolder: join(temp, 'work'),
        reportFileName: entry.name,
      },
      docModel: { enabled: false },
      dtsRollup: { enabled: false },
      tsdocMetadata: { enabled: false },
      messages: {
        compilerMessageReporting: { default: { logLevel: 'error' } },
        extractorMessageReporting: {
          default: { logLevel: 'warning' },
          // Release tags (@public/@beta) are not used here; every export is public.
          'ae-missing-release-tag': quiet,
          'ae-forgotten-export': { logLevel: 'warning', addToApiReportFile: true },
        },
        tsdocMessageReporting: { default: quiet },
      },
    },
    packageJsonFullPath: join(entry.dir, 'package.json'),
  })
  const result = Extractor.invoke(config, {
    localBuild: true,
    messageCallback: (m) => {
      // Only what makes the report wrong; missing docs show as "(undocumented)" in the report.
      if (m.logLevel === 'error' || m.messageId === 'ae-forgotten-export')
        console.log(`${entry.name}: ${m.text}`)
      m.handled = true
    },
  })
  if (!result.succeeded)
    throw new Error(`${entry.name}: API Extractor failed (${result.errorCount} errors)`)
  let text = readFileSync(join(temp, `${entry.name}.api.md`), 'utf8')
  const aug = augmentations(entry.dts, entry.dir)
  if (aug.length > 0) text += `\n## Module augmentations\n\n\`\`\`ts\n${aug.join('\n\n')}\n\`\`\`\n`
  return text
}

const entries = entryPoints()
for (const e of entries)
  if (!existsSync(e.dts)) {
    console.error(`api: ${relative(root, e.dts)} is missing: run \`pnpm build\` first`)
    process.exit(1)
  }
mkdirSync(reports, { recursive: true })
const stale = []
const expected = new Set()
for (const entry of entries) {
  const file = join(reports, `${entry.name}.api.md`)
  expected.add(`${entry.name}.api.md`)
  const text = report(entry)
  const current = existsSync(file) ? readFileSync(file, 'utf8') : undefined
  if (current === text) continue
  if (update) {
    writeFileSync(file, text)
    console.log(`api: wrote ${relative(root, file)}`)
  } else {
    stale.push(entry.name)
    const fresh = join(temp, `${entry.name}.fresh.md`)
    writeFileSync(fresh, text)
    const diff = spawnSync('diff', ['-u', current === undefined ? '/dev/null' : file, fresh], {
      encoding: 'utf8',
    })
    console.log(diff.stdout)
  }
}
for (const name of readdirSync(reports))
  if (name.endsWith('.api.md') && !expected.has(name)) {
    if (update) rmSync(join(reports, name))
    else stale.push(`${name} (no such entry point any more)`)
  }
rmSync(temp, { recursive: true, force: true })
if (stale.length > 0) {
  console.log(
    `api: the public API changed (${stale.join(', ')}). If that is intended, run \`pnpm api:update\` and commit api/.`,
  )
  process.exit(1)
}
console.log(`api: ${entries.length} entry points${update ? ' written' : ' match their reports'}`)
