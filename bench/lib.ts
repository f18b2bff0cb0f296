// What every benchmark shares: paired rounds with per-round ratios (min–median–max, never the
// best round), goals with verdicts collected into one table, servers in their own pinned
// processes, and instruction counts under valgrind's callgrind (which do not move with load).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'

/** `--instructions`: run the CPU-bound parts under callgrind (set by `run.ts`). */
export const INSTRUCTIONS = process.env.TENANTRY_BENCH_INSTRUCTIONS === '1'

/** The machine's load averages (1, 5, 15 min) and core count, to print beside wall-clock figures. */
export function load(): string {
  const [a, b, c] = loadavg().map((x) => x.toFixed(2))
  return `load ${a} ${b} ${c} on ${cpus().length} cores (shared machine)`
}

/** The median of a list of numbers. */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** Min, median and max of a sample. */
export interface Spread {
  min: number
  median: number
  max: number
}

/** Min–median–max of `values`. */
export function spread(values: number[]): Spread {
  return { min: Math.min(...values), median: median(values), max: Math.max(...values) }
}

/** `0.97× (0.93–1.01)`: the median ratio, then min–max over the rounds. */
export function fmtRatio(s: Spread | number): string {
  if (typeof s === 'number') return `${s.toFixed(2)}×`
  if (s.min === s.max) return `${s.median.toFixed(2)}×`
  return `${s.median.toFixed(2)}× (${s.min.toFixed(2)}–${s.max.toFixed(2)})`
}

/** A number with a sensible number of digits. */
export function fmt(n: number): string {
  return n >= 100 ? n.toFixed(0) : n >= 1 ? n.toFixed(2) : n.toFixed(3)
}

/** Prints a section heading. */
export function section(title: string): void {
  console.log(`\n## ${title}`)
}

/** Prints one figure (no goal). */
export function figure(label: string, value: number, unit: string, note?: string): void {
  console.log(`${label}: ${fmt(value)} ${unit}${note ? ` (${note})` : ''}`)
}

/** A goal: the largest acceptable value (`max`) or the smallest (`min`). */
export type Goal = { max: number; min?: undefined } | { min: number; max?: undefined }

/** One verdict of the run (collected by `run.ts` into the closing table). */
export interface Verdict {
  row: string
  measured: string
  goal: string
  met: boolean | null
  note?: string | undefined
}

/**
 * Prints and records a goal's verdict. The verdict uses the median; `value` may be a plain
 * number (a count, instructions) or a spread of per-round ratios. `unit` is `×` for ratios.
 */
export function verdict(
  row: string,
  value: Spread | number,
  goal: Goal,
  unit = '×',
  note?: string,
): boolean {
  const v = typeof value === 'number' ? value : value.median
  const met = goal.max !== undefined ? v <= goal.max : v >= goal.min!
  const measured =
    unit === '×'
      ? fmtRatio(value)
      : `${fmt(v)} ${unit}${typeof value === 'number' ? '' : ` (${fmt(value.min)}–${fmt(value.max)})`}`
  const goalText =
    goal.max !== undefined
      ? `≤ ${goal.max}${unit === '×' ? '×' : ` ${unit}`}`
      : `≥ ${goal.min}${unit === '×' ? '×' : ` ${unit}`}`
  console.log(
    `${row}: ${measured} (goal ${goalText}: ${met ? 'met' : 'MISSED'})${note ? ` — ${note}` : ''}`,
  )
  record({ row, measured, goal: goalText, met, note })
  return met
}

/** Records a row that could not be measured here (a missing service or tool), with the reason. */
export function skipped(row: string, goal: string, reason: string): void {
  console.log(`${row}: not measured (${reason}); goal ${goal}`)
  record({ row, measured: '—', goal, met: null, note: reason })
}

function record(v: Verdict): void {
  const file = process.env.TENANTRY_BENCH_VERDICTS
  if (file) appendFileSync(file, `${JSON.stringify(v)}\n`)
}

/**
 * Runs `measure` for every variant in each of `rounds` rounds, alternating the order (forward,
 * then backward), and returns each variant's values and its per-round ratios to `baseline`
 * (value / baseline value of the same round), so a noisy neighbour moves both sides of a ratio.
 */
export async function pairedRounds<V extends string>(
  variants: readonly V[],
  baseline: V,
  rounds: number,
  measure: (variant: V, round: number) => Promise<number> | number,
): Promise<{ values: Record<V, number[]>; ratios: Record<V, Spread> }> {
  const values = Object.fromEntries(variants.map((v) => [v, [] as number[]])) as Record<V, number[]>
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? variants : [...variants].reverse()
    for (const v of order) values[v].push(await measure(v, r))
  }
  const ratios = Object.fromEntries(
    variants.map((v) => [v, spread(values[v].map((x, i) => x / values[baseline][i]!))]),
  ) as Record<V, Spread>
  return { values, ratios }
}

/** Nanoseconds per call of `fn` over `iterations` calls (one sample). */
export function nsOnce(fn: () => unknown, iterations: number): number {
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < iterations; i++) fn()
  return Number(process.hrtime.bigint() - t0) / iterations
}

/**
 * Milliseconds of this process's CPU time (user + system) over one run of async `fn`: on a
 * shared machine a single-threaded loop's CPU time moves far less with the neighbours' load
 * than its wall time (time spent descheduled is not counted; GC helper threads are).
 */
export async function cpuMsOnce(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.cpuUsage()
  await fn()
  const t = process.cpuUsage(t0)
  return (t.user + t.system) / 1000
}

/** Milliseconds of one run of async `fn`. */
export async function msOnce(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - t0) / 1e6
}

// ---------------------------------------------------------------------------------------------
// Processes

const CPU_COUNT = cpus().length
const hasTaskset = spawnSync('taskset', ['-V']).status === 0

/**
 * Pins this process (the load generator) to CPU 0 and returns the CPU for servers (the last
 * one), or `undefined` on a single core / without taskset.
 */
export function pinLoadGenerator(): number | undefined {
  if (!hasTaskset || CPU_COUNT < 2) return undefined
  spawnSync('taskset', ['-p', '-c', '0', String(process.pid)], { stdio: 'ignore' })
  return CPU_COUNT - 1
}

/** A server in its own process; it reports its port (and CPU time on request) over IPC. */
export interface Server {
  child: ChildProcess
  port: number
  /** The server process's CPU time so far (user + system), in microseconds. */
  cpuUs(): Promise<number>
  /** Asks the server to exit and waits; resolves with its stderr (callgrind's summary). */
  stop(): Promise<string>
}

/** Options of {@link startServer}. */
export interface ServerOptions {
  /** Pin the server to this CPU with taskset. */
  cpu?: number | undefined
  /** Run it under `valgrind --tool=callgrind` (see {@link callgrindTotal}). */
  callgrind?: boolean | undefined
  /** The Node binary (default this one). */
  node?: string | undefined
  env?: NodeJS.ProcessEnv | undefined
}

const NODE_FLAGS = ['--conditions=tenantry-source', '--import', 'tsx']
const CALLGRIND_NODE_FLAGS = ['--single-threaded', '--predictable']

/**
 * Starts `node file ...args` in its own process (pinned, optionally under callgrind). The
 * script calls {@link serveOverIpc} once it listens.
 */
export async function startServer(
  file: string,
  args: string[],
  options: ServerOptions = {},
): Promise<Server> {
  const node = options.node ?? process.execPath
  // Under callgrind: the bundled script, and V8 without background threads or time-based
  // heuristics (--predictable), so instruction counts repeat run to run.
  const nodeArgs = options.callgrind
    ? [...CALLGRIND_NODE_FLAGS, await bundle(file), ...args]
    : [...NODE_FLAGS, file, ...args]
  let cmd = node
  let cmdArgs = nodeArgs
  let outDir: string | undefined
  if (options.callgrind) {
    outDir = mkdtempSync(join(tmpdir(), 'tenantry-callgrind-'))
    cmd = 'valgrind'
    cmdArgs = ['--tool=callgrind', `--callgrind-out-file=${join(outDir, 'out')}`, node, ...nodeArgs]
  }
  if (options.cpu !== undefined && hasTaskset) {
    cmdArgs = ['-c', String(options.cpu), cmd, ...cmdArgs]
    cmd = 'taskset'
  }
  const child = spawn(cmd, cmdArgs, {
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    env: { ...process.env, ...options.env },
  })
  let stderr = ''
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString()
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port))
    child.once('exit', (code) =>
      reject(new Error(`server ${file} ${args.join(' ')} exited (${code}):\n${stderr}`)),
    )
  })
  return {
    child,
    port,
    cpuUs: () =>
      new Promise<number>((resolve) => {
        child.once('message', (m) => resolve((m as { cpuUs: number }).cpuUs))
        child.send('cpu')
      }),
    async stop() {
      if (child.exitCode === null) child.send('exit')
      await exited
      if (outDir !== undefined) rmSync(outDir, { recursive: true, force: true })
      return stderr
    },
  }
}

/** The server side of {@link startServer}: report the port, answer CPU-time asks, exit on ask. */
export function serveOverIpc(port: number, close: () => Promise<unknown>): void {
  process.on('message', (m) => {
    if (m === 'exit') {
      void close().then(() => process.exit(0))
      return
    }
    const { user, system } = process.cpuUsage()
    process.send?.({ cpuUs: user + system })
  })
  process.send?.({ port })
}

// ---------------------------------------------------------------------------------------------
// Instruction counts

let valgrindChecked: boolean | undefined

/** True when valgrind is installed; prints how to get it otherwise. */
export function hasValgrind(): boolean {
  if (valgrindChecked === undefined) {
    valgrindChecked = spawnSync('valgrind', ['--version']).status === 0
    if (!valgrindChecked)
      console.log(
        'valgrind is not installed (apt-get install -y valgrind): instruction counts skipped',
      )
  }
  return valgrindChecked
}

/** The `Collected : N` total from callgrind's summary on stderr. */
export function callgrindTotal(stderr: string): number {
  const m = /Collected\s*:\s*(\d+)/.exec(stderr)
  if (m === null) throw new Error(`no callgrind summary in:\n${stderr.slice(-2000)}`)
  return Number(m[1])
}

/**
 * Instructions per unit of work of a script under callgrind, by difference: the script runs
 * once doing `warm + small` units and once `warm + large`; (I_large − I_small) / (large − small)
 * cancels start-up, JIT warm-up and exit. The script gets the count as its last argument.
 */
export async function scriptInstructions(
  file: string,
  args: string[],
  small: number,
  large: number,
): Promise<number> {
  const script = await bundle(file)
  const total = (n: number) => {
    const out = mkdtempSync(join(tmpdir(), 'tenantry-callgrind-'))
    try {
      const r = spawnSync(
        'valgrind',
        [
          '--tool=callgrind',
          `--callgrind-out-file=${join(out, 'out')}`,
          process.execPath,
          ...CALLGRIND_NODE_FLAGS,
          script,
          ...args,
          String(n),
        ],
        { encoding: 'utf8', env: { ...process.env, TENANTRY_BENCH_INSTRUCTIONS: '0' } },
      )
      if (r.status !== 0)
        throw new Error(`${file} under callgrind failed:\n${r.stderr.slice(-2000)}`)
      return callgrindTotal(r.stderr)
    } finally {
      rmSync(out, { recursive: true, force: true })
    }
  }
  return (total(large) - total(small)) / (large - small)
}

/**
 * Request counts for {@link serverInstructions} at steady state: with 400 warm-up requests the
 * difference still counted V8 compiling (on the main thread under --single-threaded): bare
 * Fastify 448k a request, against 57k after 8,000 (56.6k after 20,000, so 8,000 is enough).
 */
export const STEADY_STATE = { warm: 8000, small: 1000, large: 5000 } as const

/**
 * Instructions per request of an HTTP server under callgrind, by difference of two runs that
 * serve `warm + small` and `warm + large` requests sent one after another by `drive`, on
 * `node` (default this process's binary).
 */
export async function serverInstructions(
  file: string,
  args: string[],
  drive: (port: number, requests: number) => Promise<void>,
  counts: { warm: number; small: number; large: number },
  node?: string | undefined,
): Promise<number> {
  const total = async (n: number) => {
    const server = await startServer(file, args, { callgrind: true, node })
    try {
      await drive(server.port, counts.warm + n)
    } finally {
      void 0
    }
    return callgrindTotal(await server.stop())
  }
  const a = await total(counts.small)
  const b = await total(counts.large)
  return (b - a) / (counts.large - counts.small)
}

const bundles = new Map<string, string>()

/**
 * Bundles a TypeScript entry (workspace packages from source) into one ESM file under
 * `node_modules/.cache`, so a process under callgrind starts without a TypeScript loader:
 * start-up is shorter and does the same work every time (no transform cache to warm).
 */
export async function bundle(file: string, external: string[] = []): Promise<string> {
  const done = bundles.get(file)
  if (done !== undefined) return done
  const { build } = await import('esbuild')
  const dir = join(import.meta.dirname, 'node_modules', '.cache', 'tenantry-bench')
  const outfile = join(dir, `${file.replace(/[^a-z0-9]+/gi, '_')}.mjs`)
  await build({
    entryPoints: [file],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    conditions: ['tenantry-source'],
    external: ['better-sqlite3', 'esbuild', ...external],
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
    logLevel: 'error',
  })
  bundles.set(file, outfile)
  return outfile
}

/** Reads a file's text, or `undefined`. */
export function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
}

/**
 * Sends `count` requests one after another over one keep-alive connection (for instruction
 * counts: no concurrency, so every run does the same work).
 */
export async function sequentialRequests(
  port: number,
  count: number,
  request: {
    method?: string
    /** The path, or one per request (`i` counts from 0). */
    path?: string | ((i: number) => string)
    host?: string
    body?: string
  },
): Promise<void> {
  const path = request.path ?? '/'
  const { Agent, request: httpRequest } = await import('node:http')
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  const headers: Record<string, string> = { host: request.host ?? `localhost:${port}` }
  if (request.body !== undefined) {
    headers['content-type'] = 'application/json'
    headers['content-length'] = String(Buffer.byteLength(request.body))
  }
  try {
    for (let i = 0; i < count; i++) {
      await new Promise<void>((resolve, reject) => {
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port,
            agent,
            method: request.method ?? 'GET',
            path: typeof path === 'string' ? path : path(i),
            headers,
          },
          (res) => {
            if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`))
            res.resume()
            res.on('end', resolve)
          },
        )
        req.on('error', reject)
        req.end(request.body)
      })
    }
  } finally {
    agent.destroy()
  }
}

// ---------------------------------------------------------------------------------------------
// The earlier helpers, kept for benches that still use them (medians, never the best round).

/** Nanoseconds per call of `fn`, the median of `rounds` rounds of `iterations` calls. */
export function nsPerOp(fn: () => unknown, iterations = 1_000_000, rounds = 7): number {
  nsOnce(fn, iterations / 10)
  return median(Array.from({ length: rounds }, () => nsOnce(fn, iterations)))
}

/** Nanoseconds per call of `a` and of `b` in alternating rounds; medians of `rounds`. */
export function nsPerOpPair(
  a: () => unknown,
  b: () => unknown,
  iterations = 1_000_000,
  rounds = 11,
): [number, number] {
  const sa: number[] = []
  const sb: number[] = []
  nsOnce(a, iterations / 10)
  nsOnce(b, iterations / 10)
  for (let r = 0; r < rounds; r++) {
    const first = r % 2 === 0
    if (first) sa.push(nsOnce(a, iterations))
    sb.push(nsOnce(b, iterations))
    if (!first) sa.push(nsOnce(a, iterations))
  }
  return [median(sa), median(sb)]
}

/** Milliseconds per run of each async function, in alternating rounds; medians. */
export async function msPerRunEach(fns: (() => Promise<unknown>)[], rounds = 7): Promise<number[]> {
  for (const fn of fns) await fn()
  const samples: number[][] = fns.map(() => [])
  for (let r = 0; r < rounds; r++) {
    const order = fns.map((_, i) => i)
    if (r % 2 === 1) order.reverse()
    for (const i of order) samples[i]!.push(await msOnce(fns[i]!))
  }
  return samples.map(median)
}

/** Milliseconds per run of async `fn`, the median of `rounds` runs (after one warm-up). */
export async function msPerRun(fn: () => Promise<unknown>, rounds = 5): Promise<number> {
  await fn()
  const samples: number[] = []
  for (let r = 0; r < rounds; r++) samples.push(await msOnce(fn))
  return median(samples)
}

/**
 * Prints `label: value unit vs baseline unit = ratio×` and, with a goal, records its verdict.
 * `goal.max` is the largest acceptable ratio, `goal.min` the smallest.
 */
export function compare(
  label: string,
  value: number,
  baseline: number,
  unit: string,
  goal?: { max?: number; min?: number },
): number {
  const ratio = value / baseline
  const detail = `${fmt(value)} ${unit} vs baseline ${fmt(baseline)} ${unit}`
  if (goal?.max !== undefined) verdict(label.trim(), ratio, { max: goal.max }, '×', detail)
  else if (goal?.min !== undefined) verdict(label.trim(), ratio, { min: goal.min }, '×', detail)
  else console.log(`${label}: ${ratio.toFixed(2)}× (${detail})`)
  return ratio
}
