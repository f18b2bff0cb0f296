import { sequentialRequests, serverInstructions } from './lib.ts'

const file = `${import.meta.dirname}/servers/hello.ts`
for (const v of process.argv.slice(2)) {
  const t0 = Date.now()
  const n = await serverInstructions(
    file,
    [v],
    (port, n) => sequentialRequests(port, n, { host: 'acme.localhost' }),
    { warm: 400, small: 100, large: 700 },
  )
  console.log(v, Math.round(n), 'instr/request', (Date.now() - t0) / 1000, 's')
}
