// Typechecks every ```ts block of the READMEs and docs/ against the workspace packages.
// Each block is its own module and its own program (blocks declare `Resources` differently,
// and an augmentation is global to a program); programs reuse each other's parsed files.
// A fragment that cannot compile alone is marked ```ts no-check — <reason> (a reason is
// required). Relative imports of app files (`./src/migrations.js`) get stub modules whose
// names are `any`. `--list` prints the blocks; files may be given as arguments.
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { dirname, join, relative } from 'node:path'
import ts from 'typescript'

const root = join(import.meta.dirname, '..')
const out = join(root, '.cache', 'docs-blocks')
const args = process.argv.slice(2).filter((a) => !a.startsWith('--'))

function markdownFiles() {
  if (args.length > 0) return args.map((a) => join(process.cwd(), a))
  const files = [join(root, 'README.md'), join(root, 'CONTRIBUTING.md')]
  for (const dir of ['packages', 'examples'])
    for (const name of readdirSync(join(root, dir))) files.push(join(root, dir, name, 'README.md'))
  for (const name of readdirSync(join(root, 'docs')))
    if (name.endsWith('.md')) files.push(join(root, 'docs', name))
  return files.filter(existsSync)
}

/** Every ```ts / ```typescript block: { file, line (of the first code line), info, code }. */
function extract(file) {
  const lines = readFileSync(file, 'utf8').split('\n')
  const blocks = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```+\s*(ts|typescript|tsx)\b(.*)$/.exec(lines[i])
    if (open === null) continue
    const indent = open[1].length
    const body = []
    let j = i + 1
    for (; j < lines.length && !/^\s*```+\s*$/.test(lines[j]); j++)
      body.push(lines[j].slice(indent))
    blocks.push({ file, line: i + 2, info: open[3].trim(), code: body.join('\n') })
    i = j
  }
  return blocks
}

// node_modules for the blocks: every workspace package under its name (its sources through
// the tenantry-source condition), and every dependency any workspace package has.
function linkModules() {
  rmSync(out, { recursive: true, force: true })
  mkdirSync(join(out, 'node_modules', '@tenantry'), { recursive: true })
  writeFileSync(join(out, 'package.json'), '{ "type": "module", "private": true }\n')
  const linked = new Set()
  const link = (name, target) => {
    if (linked.has(name) || !existsSync(target)) return
    linked.add(name)
    mkdirSync(dirname(join(out, 'node_modules', name)), { recursive: true })
    symlinkSync(target, join(out, 'node_modules', name))
  }
  const dirs = []
  for (const dir of ['packages', 'examples'])
    for (const name of readdirSync(join(root, dir))) dirs.push(join(root, dir, name))
  for (const dir of dirs) {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
    if (pkg.name.startsWith('@tenantry/')) link(pkg.name, dir)
  }
  for (const dir of [...dirs, root]) {
    const nm = join(dir, 'node_modules')
    if (!existsSync(nm)) continue
    for (const entry of readdirSync(nm)) {
      if (entry.startsWith('.')) continue
      if (entry.startsWith('@'))
        for (const sub of readdirSync(join(nm, entry)))
          link(`${entry}/${sub}`, join(nm, entry, sub))
      else link(entry, join(nm, entry))
    }
  }
}

/** Stub modules for a block's relative imports: every imported name is `any`. */
function stubs(code, dir) {
  const files = []
  const re = /import\s+(type\s+)?([^'"]*?)\s+from\s+['"](\.{1,2}\/[^'"]+)['"]/g
  for (const m of code.matchAll(re)) {
    const spec = m[3]
    const file = join(dir, spec.replace(/\.(m?js)$/, '.ts'))
    const lines = new Set()
    const clause = m[2]
    const named = /\{([^}]*)\}/.exec(clause)
    for (const part of named?.[1].split(',') ?? []) {
      const name = part
        .trim()
        .replace(/^type\s+/, '')
        .split(/\s+as\s+/)[0]
      if (name) lines.add(`export declare const ${name}: any\nexport type ${name} = any`)
    }
    const def = clause
      .replace(/\{[^}]*\}/, '')
      .replace(/,/g, '')
      .trim()
    if (def && !def.startsWith('*'))
      lines.add('declare const _default: any\nexport default _default')
    if (def.startsWith('*')) lines.add('export {}')
    mkdirSync(dirname(file), { recursive: true })
    const previous = existsSync(file) ? `${readFileSync(file, 'utf8')}\n` : ''
    writeFileSync(file, `${previous}${[...lines].join('\n')}\n`)
    files.push(file)
  }
  return files
}

const options = {
  target: ts.ScriptTarget.ES2022,
  lib: ['lib.es2023.d.ts'],
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  strict: true,
  noEmit: true,
  skipLibCheck: true, // the packages themselves are checked by `pnpm typecheck`
  verbatimModuleSyntax: true,
  customConditions: ['tenantry-source'],
  allowImportingTsExtensions: true,
  types: ['node'],
}

const blocks = markdownFiles().flatMap(extract)
if (process.argv.includes('--list')) {
  for (const b of blocks) console.log(`${relative(root, b.file)}:${b.line} ${b.info}`)
  process.exit(0)
}
linkModules()
const host = ts.createCompilerHost(options)
let previous
const failures = []
let checked = 0
const skipped = []
for (const [n, block] of blocks.entries()) {
  if (/^no-check\b/.test(block.info)) {
    const reason = block.info.replace(/^no-check\b\s*[-—:]*\s*/, '')
    if (reason === '')
      failures.push(`${relative(root, block.file)}:${block.line}: "no-check" needs a reason`)
    skipped.push(`${relative(root, block.file)}:${block.line} (${reason})`)
    continue
  }
  const dir = join(out, `b${n}`)
  mkdirSync(dir, { recursive: true })
  const file = join(dir, 'block.ts')
  const isModule = /^\s*(import|export)\s/m.test(block.code)
  // An augmented module must be in the program: load it when the block alone does not.
  const augmented = [...block.code.matchAll(/^\s*declare module '([^'.][^']*)'/gm)].map((m) => m[1])
  const loads = augmented
    .filter((name) => !block.code.includes(`from '${name}'`))
    .map((name) => `import type {} from '${name}'\n`)
  writeFileSync(
    file,
    `${block.code}\n${isModule || loads.length ? '' : 'export {}\n'}${loads.join('')}`,
  )
  const program = ts.createProgram([file, ...stubs(block.code, dir)], options, host, previous)
  previous = program
  checked++
  const source = program.getSourceFile(file)
  const diagnostics = [
    ...program.getSyntacticDiagnostics(source),
    ...program.getSemanticDiagnostics(source),
  ]
  for (const d of diagnostics) {
    const { line } =
      d.start === undefined ? { line: 0 } : source.getLineAndCharacterOfPosition(d.start)
    failures.push(
      `${relative(root, block.file)}:${block.line + line}: TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, '\n  ')}`,
    )
  }
}
console.log(`docs blocks: ${checked} typechecked, ${skipped.length} marked no-check`)
for (const s of skipped) console.log(`  no-check ${s}`)
if (failures.length > 0) {
  console.log(`\n${failures.length} error(s):\n${failures.join('\n')}`)
  process.exit(1)
}
