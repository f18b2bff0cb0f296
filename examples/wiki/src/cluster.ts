// `--workers N` (or WIKI_WORKERS=N): N wiki processes on one data root behind one port, with
// node:cluster. Every worker is a whole app with its own connections; they share nothing but the
// files, which @tenantry/sqlite keeps safe across processes (write transactions take the lock up
// front, a destroyed wiki is noticed by the others, crashes leave nothing that blocks).
import cluster from 'node:cluster'

/** The number of workers asked for on the command line or in WIKI_WORKERS (1: no cluster). */
export function workersWanted(argv: readonly string[], env: NodeJS.ProcessEnv): number {
  const i = argv.indexOf('--workers')
  const raw =
    i >= 0
      ? argv[i + 1]
      : (argv.find((a) => a.startsWith('--workers='))?.slice(10) ?? env.WIKI_WORKERS)
  if (raw === undefined) return 1
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 1 || n > 64)
    throw new Error(`--workers needs a whole number from 1 to 64, not "${raw}".`)
  return n
}

/**
 * In the primary: forks `n` workers and resolves with the port they share once all of them
 * listen. A worker that dies is replaced (a crash never takes the site down); SIGINT/SIGTERM
 * stop them all.
 */
export function startWorkers(n: number): Promise<number> {
  let stopping = false
  let listening = 0
  for (let i = 0; i < n; i++) cluster.fork()
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return
    console.error(`wiki: worker ${worker.process.pid} exited (${signal ?? code}); starting another`)
    cluster.fork()
  })
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      stopping = true
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM')
      const left = () => Object.keys(cluster.workers ?? {}).length
      if (left() === 0) process.exit(0)
      cluster.on('exit', () => {
        if (left() === 0) process.exit(0)
      })
    })
  return new Promise((resolve) => {
    cluster.on('listening', (_worker, address) => {
      if (++listening === n) resolve(address.port)
    })
  })
}
