#!/usr/bin/env node
/**
 * aaps-verify: offline verification of AAPS evidence bundles; it never touches the network.
 *
 *   aaps-verify BUNDLE|DIR|- [--key HEX|FILE] [--trusted-root FILE] [--checkpoint FILE]
 *               [--roster FILE] [--ciphersuite ID] [--jobs N] [--json]
 *
 * Exit 0: every bundle is valid. 1: a bundle is invalid (one line names the failed check).
 * 2: usage error or unreadable input. With a directory or `-` (a stream of JSON bundles on stdin)
 * it verifies each, on `--jobs` threads (default: every core), and ends with the count and the
 * rate. The CLI itself is `verify-main.ts`.
 *
 * This launcher loads nothing but Node built-ins before it starts the worker threads a stream or
 * a directory will use, so they load the verifier while this thread does; they are told what to
 * trust once the arguments are checked, and stopped if they are not needed. It first sets V8's
 * tier-up budget for a short-lived process (jit-budget.ts).
 */
// First: V8's tier-up budget, before any other module is evaluated (jit-budget.ts).
import './jit-budget.js';
import { prestartCount } from './args.js';
import { spawnWorkers } from './spawn-workers.js';

// At most MAX_JOBS - 1 workers, and none for a usage error (verify-main reports it).
const count = prestartCount(process.argv.slice(2));
const workers = count > 0 ? spawnWorkers(count) : [];
const { runCli } = await import('./verify-main.js');
process.exitCode = await runCli(process.argv.slice(2), workers);
