#!/usr/bin/env node
// `npx attache <command>`: the operations CLI (doctor, verify, migrate, reencrypt, sweep, install, work).
import { run } from './program.ts';

const code = await run(process.argv);
// Flush what is still buffered for a pipe, then exit: idle keep-alive sockets must not hold the process.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
