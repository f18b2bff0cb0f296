// Worker threads on Node 20 ignore `--import tsx` in execArgv: when the package runs from its
// TypeScript sources, register tsx here, then load the TypeScript worker entry.
import { workerData } from 'node:worker_threads'
import { register } from 'tsx/esm/api'

register()
await import(workerData.entry)
