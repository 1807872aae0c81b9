#!/usr/bin/env node
// Runs the TypeScript CLI (lib/cli/cli.main.ts) through tsx's loader, in this same process (stdin, TTY and exit
// status behave as for any Node program). Arguments are passed on untouched.
import { register } from 'tsx/esm/api';

register();
const { main } = await import(new URL('../lib/cli/cli.main.ts', import.meta.url).href);
process.exitCode = await main(process.argv.slice(2));
