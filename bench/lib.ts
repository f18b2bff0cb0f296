// Small helpers shared by the benchmarks: timing, and one line per comparison with the ratio
// to a baseline measured in the same run (absolute numbers on these machines mean little).

/** Nanoseconds per call of `fn`, the median of `rounds` rounds of `iterations` calls. */
export function nsPerOp(fn: () => unknown, iterations = 1_000_000, rounds = 7): number {
  for (let i = 0; i < iterations / 10; i++) fn() // warm up
  const samples: number[] = []
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < iterations; i++) fn()
    samples.push(Number(process.hrtime.bigint() - t0) / iterations)
  }
  return median(samples)
}

/**
 * Nanoseconds per call of `a` and of `b`, measured in alternating rounds so that a noisy
 * neighbour on the machine slows both alike; medians of `rounds`.
 */
export function nsPerOpPair(
  a: () => unknown,
  b: () => unknown,
  iterations = 1_000_000,
  rounds = 11,
): [number, number] {
  const sa: number[] = []
  const sb: number[] = []
  for (let i = 0; i < iterations / 10; i++) {
    a()
    b()
  }
  for (let r = 0; r < rounds; r++) {
    for (const [fn, out] of [
      [a, sa],
      [b, sb],
    ] as const) {
      const t0 = process.hrtime.bigint()
      for (let i = 0; i < iterations; i++) fn()
      out.push(Number(process.hrtime.bigint() - t0) / iterations)
    }
  }
  return [median(sa), median(sb)]
}

/** Milliseconds per run of each async function, in alternating rounds; medians. */
export async function msPerRunEach(fns: (() => Promise<unknown>)[], rounds = 7): Promise<number[]> {
  for (const fn of fns) await fn()
  const samples: number[][] = fns.map(() => [])
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < fns.length; i++) {
      const t0 = process.hrtime.bigint()
      await fns[i]!()
      samples[i]!.push(Number(process.hrtime.bigint() - t0) / 1e6)
    }
  }
  return samples.map(median)
}

/** Milliseconds per run of async `fn`, the median of `rounds` runs (after one warm-up). */
export async function msPerRun(fn: () => Promise<unknown>, rounds = 5): Promise<number> {
  await fn()
  const samples: number[] = []
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint()
    await fn()
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6)
  }
  return median(samples)
}

/** The median of a list of numbers. */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** Prints a section heading. */
export function section(title: string): void {
  console.log(`\n## ${title}`)
}

/**
 * Prints `label: value unit vs baseline unit = ratio× (goal)` and returns the ratio.
 * `goal` is the largest acceptable ratio (or smallest, with `higherIsBetter`).
 */
export function compare(
  label: string,
  value: number,
  baseline: number,
  unit: string,
  goal?: { max?: number; min?: number },
): number {
  const ratio = value / baseline
  let verdict = ''
  if (goal?.max !== undefined)
    verdict = ratio <= goal.max ? ` (goal ≤ ${goal.max}×: met)` : ` (goal ≤ ${goal.max}×: MISSED)`
  if (goal?.min !== undefined)
    verdict = ratio >= goal.min ? ` (goal ≥ ${goal.min}×: met)` : ` (goal ≥ ${goal.min}×: MISSED)`
  console.log(
    `${label}: ${fmt(value)} ${unit} vs baseline ${fmt(baseline)} ${unit} = ${ratio.toFixed(2)}×${verdict}`,
  )
  return ratio
}

/** Prints one figure with an optional goal. */
export function figure(label: string, value: number, unit: string, goal?: string): void {
  console.log(`${label}: ${fmt(value)} ${unit}${goal ? ` (${goal})` : ''}`)
}

function fmt(n: number): string {
  return n >= 100 ? n.toFixed(0) : n >= 1 ? n.toFixed(2) : n.toFixed(3)
}
