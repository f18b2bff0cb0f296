#!/usr/bin/env node
// The `tenantry` executable: runs the CLI on this process's arguments and streams.
import { run } from './cli.js'

process.exitCode = await run(process.argv.slice(2))
