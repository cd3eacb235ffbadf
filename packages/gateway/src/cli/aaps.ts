#!/usr/bin/env node
/**
 * The `aaps` CLI: `up`, `gateway --config F`, `submit FILE --source S`, `party ...`, `openapi`.
 * The only place errors become exit codes: bad usage prints one line and exits 2; a failure at run
 * time prints one line and exits 1.
 */
import { spawn } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PARTY_MAIN, PARTY_NODE_ARGS, readJsonFile, readPackageVersion } from '@aaps/agents';
import { processCliOutput } from '@aaps/evidence';
import { firstMessageLine, innermostCause, isAapsError, loadFastBackends } from '@aaps/mpc-core';
import { openApiDocument } from '../app.js';
import { type GatewayConfig, parseGatewayConfig } from '../config.js';
import { runApprove, takeApproveFlags } from './approve.js';
import { terminalAsk } from './confirm.js';
import { runApproverInit, runGatewayInit } from './gateway-init.js';
import { runKeys, takeReasonFlag } from './keys.js';
import { runLogAudit, takeLogAuditFlags } from './log-audit.js';
import { runSubmit } from './submit.js';
import { runUnseal, takeUnsealFlags } from './unseal.js';
import { runGatewayOnly, runUp } from './up.js';
import { commandUsage, USAGE } from './usage.js';
import { UsageError } from './usage-error.js';

function stopSignal(): Promise<string> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}

function parse(argv: readonly string[], env: NodeJS.ProcessEnv): { config: GatewayConfig; rest: string[] } {
  const first = parseGatewayConfig(argv, env);
  if (!first.ok) throw new UsageError(first.errors.join('; '));
  if (first.config.configFile === undefined) return first;
  let file: unknown;
  try {
    // A key given twice is refused, naming it: JSON.parse would keep the last one unseen.
    file = readJsonFile(first.config.configFile, 'file');
  } catch (e) {
    throw new UsageError(`--config: ${e instanceof Error ? e.message : String(e)}`);
  }
  const merged = parseGatewayConfig(argv, env, file, dirname(resolve(first.config.configFile)));
  if (!merged.ok) throw new UsageError(merged.errors.join('; '));
  return merged;
}

export async function main(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  error: (line: string) => void = (l) => processCliOutput().error(l),
): Promise<number> {
  const [command, ...args] = argv;
  const { print, gone } = processCliOutput();
  // `aaps <command> [<sub>] --help`: that command's own usage (a party prints its own).
  if (command !== undefined && command !== 'party' && args.some((a) => a === '--help' || a === '-h')) {
    const own = commandUsage(command, args);
    if (own === undefined && !command.startsWith('-') && command !== 'help')
      throw new UsageError(`unknown command ${command} (try aaps help)`);
    print(own ?? USAGE);
    return 0;
  }
  switch (command) {
    case 'up': {
      const { config, rest } = parse(args, env);
      if (rest.length > 0) throw new UsageError(`up: unexpected argument ${rest[0]}`);
      await loadFastBackends();
      return runUp(config, { print, stopSignal: stopSignal() });
    }
    case 'gateway': {
      if (args[0] === 'init') {
        const { config, rest } = parse(args.slice(1), env);
        if (rest.length > 0) throw new UsageError(`gateway init: unexpected argument ${rest[0]}`);
        return runGatewayInit(config, { print, say: error });
      }
      const { config, rest } = parse(args, env);
      if (rest.length > 0) throw new UsageError(`gateway: unexpected argument ${rest[0]}`);
      await loadFastBackends();
      return runGatewayOnly(config, { print, stopSignal: stopSignal() });
    }
    case 'approver': {
      if (args[0] !== 'init') throw new UsageError('approver: expected init');
      const { config, rest } = parse(args.slice(1), env);
      if (rest.length > 0) throw new UsageError(`approver init: unexpected argument ${rest[0]}`);
      return runApproverInit(config, { print, say: error });
    }
    case 'submit': {
      const { config, rest } = parse(args, env);
      if (rest.length !== 1) throw new UsageError('submit: expected exactly one FILE');
      if (config.source === undefined) throw new UsageError('submit: --source is required');
      const token = ensureTokenForClient(config);
      return runSubmit(rest[0] ?? '', config, token, { print, fetch, error, gone });
    }
    case 'approve': {
      let flags: ReturnType<typeof takeApproveFlags>;
      try {
        flags = takeApproveFlags(args);
      } catch (e) {
        throw new UsageError(`approve: ${e instanceof Error ? e.message : String(e)}`);
      }
      const { config, rest } = parse(flags.rest, env);
      if (rest.length !== 1) throw new UsageError('approve: expected exactly one INCIDENT id');
      const ask = terminalAsk();
      return runApprove(
        rest[0] ?? '',
        config,
        ensureTokenForClient(config),
        { print, fetch, error, gone, ...(ask === undefined ? {} : { ask }) },
        {
          yes: flags.yes,
          ...(flags.reason === undefined ? {} : { reject: { reason: flags.reason } }),
          ...(flags.digest === undefined ? {} : { digest: flags.digest }),
        },
      );
    }
    case 'unseal': {
      let flags: ReturnType<typeof takeUnsealFlags>;
      try {
        flags = takeUnsealFlags(args);
      } catch (e) {
        throw new UsageError(e instanceof Error ? e.message : String(e));
      }
      const { config, rest } = parse(flags.rest, env);
      if (rest.length !== 1) throw new UsageError('unseal: expected exactly one EVIDENCE id');
      if (flags.reason === undefined) throw new UsageError('unseal: --reason is required');
      return runUnseal(
        {
          evidenceId: rest[0] ?? '',
          reason: flags.reason,
          fields: flags.fields,
          json: flags.json,
          ...(flags.keyFile === undefined ? {} : { keyFile: flags.keyFile }),
          ...(flags.out === undefined ? {} : { out: flags.out }),
          ...(flags.trustedRoot === undefined ? {} : { trustedRoot: flags.trustedRoot }),
          ...(flags.trustServedRoot ? { trustServedRoot: true } : {}),
        },
        config,
        ensureTokenForClient(config),
        { print, fetch, error },
      );
    }
    case 'keys': {
      const flags = takeReasonFlag(args);
      const { config, rest } = parse(flags.rest, env);
      return runKeys(rest, config, ensureTokenForClient(config), { print, fetch, error }, flags.reason);
    }
    case 'log': {
      const own = takeLogAuditFlags(args);
      const { config, rest } = parse(own.rest, env);
      return runLogAudit(rest, config, ensureTokenForClient(config), { print, fetch, error }, own.flags);
    }
    case 'party': {
      // fd 3 is a pipe the party watches (main.ts, as under `aaps up`): when this process ends,
      // even by SIGKILL, the pipe closes and the party stops (drained) instead of living on as an
      // orphan that holds its port and database lock, so a supervisor's restart can start it.
      // The heap limits `aaps up` gives its parties (docs/PERFORMANCE.md, "Memory"), unless the
      // operator set their own in NODE_OPTIONS (the command line would override those).
      const limits = /--max-(old|semi)-space-size/.test(env.NODE_OPTIONS ?? '') ? [] : PARTY_NODE_ARGS;
      const child = spawn(process.execPath, [...limits, PARTY_MAIN, ...args], {
        stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
        env: { ...env, AAPS_PARTY_PARENT_FD: '3' },
      });
      const pipe = child.stdio[3] as NodeJS.ReadableStream | null;
      pipe?.on('error', () => {});
      pipe?.resume();
      const forward = (signal: NodeJS.Signals) => () => void child.kill(signal);
      for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, forward(signal));
      return new Promise((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
    }
    case 'openapi':
      print(JSON.stringify(openApiDocument(), null, 2));
      return 0;
    case '--version':
      print(readPackageVersion(new URL('../../package.json', import.meta.url)));
      return 0;
    case 'help': {
      // `aaps help <command> [<sub>]`: that command's usage, as `aaps <command> [<sub>] --help`.
      if (args[0] === 'party') return main(['party', ...args.slice(1), '--help'], env, error);
      if (args[0] === undefined) {
        print(USAGE);
        return 0;
      }
      const own = commandUsage(args[0], args.slice(1));
      if (own === undefined) throw new UsageError(`help: unknown command ${args[0]} (try aaps help)`);
      print(own);
      return 0;
    }
    case undefined:
    case '--help':
    case '-h':
      print(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command ${command} (try aaps help)`);
  }
}

/** The client's token: `--api-token` / `AAPS_API_TOKEN`, else the one `aaps up` stored. */
function ensureTokenForClient(config: GatewayConfig): string {
  if (config.apiToken !== undefined) return config.apiToken;
  try {
    return readFileSync(join(config.dataDir, 'api-token'), 'utf8').trim();
  } catch {
    throw new UsageError(`no token: set AAPS_API_TOKEN or --api-token (none stored in ${config.dataDir})`);
  }
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

/**
 * The root cause of a wrapped error, when it says more than the error itself: LevelDB's
 * "Database failed to open" wraps the I/O error that names the reason (ENOSPC, EACCES, a lock).
 */
function causeOf(e: unknown): string {
  const cause = innermostCause(e);
  if (cause === undefined) return '';
  const text = firstMessageLine(cause);
  const code = (cause as { code?: unknown }).code;
  const message = (e as Error).message;
  const said = message.includes(text) || (typeof code === 'string' && message.includes(code));
  return text === '' || said ? '' : ` (${text})`;
}

/** Runs `main` and turns every error into one line on stderr and an exit code (2 usage, 1 failure). */
export async function run(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  stderr: (line: string) => void = (l) => processCliOutput().error(l),
): Promise<number> {
  try {
    return await main(argv, env, stderr);
  } catch (e) {
    if (e instanceof UsageError) {
      stderr(`aaps: ${e.message}`);
      return 2;
    }
    const what = isAapsError(e) ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);
    stderr(`aaps: ${what.split('\n')[0]}${causeOf(e)}`);
    return 1;
  }
}

/**
 * The exit code once the output was written: stdout that could not be written (ENOSPC, EIO; not
 * a reader that left: guarded-output.ts) is a failure at run time, one line on stderr and at least
 * exit 1, so `aaps openapi > f && publish f` does not publish an empty file.
 */
export function exitAfterOutput(
  code: number,
  failure: string | undefined,
  stderr: (line: string) => void,
): number {
  if (failure === undefined) return code;
  stderr(`aaps: cannot write to stdout: ${failure}`);
  return code === 0 ? 1 : code;
}

/**
 * Run as the `aaps` command: this process's arguments and environment, then exit with the code
 * once stdout has flushed (a pipe takes writes asynchronously, and exiting early cuts them).
 */
export function runCommand(): void {
  const output = processCliOutput();
  run(process.argv.slice(2), process.env)
    .then(async (code) => {
      await output.flush();
      return exitAfterOutput(code, output.failure(), output.error);
    })
    .then((code) => process.exit(code));
}

if (isMain()) runCommand();
