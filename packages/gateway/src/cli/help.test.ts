/**
 * `aaps <command> [<sub>] --help` (and `-h`, and `aaps help <command> [<sub>]`) prints that
 * command's own usage on stdout, exit 0: never the general one. Before: every command but `party`
 * printed the general usage (`aaps approver init --help` showed the whole command list).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runAaps } from '../test-helpers/aaps-process.js';
import { runCapture } from './test-helpers/run-capture.js';
import { USAGE } from './usage.js';

const GENERAL = 'usage: aaps <command>';

/** What the operator types before `--help`, and the line its usage must start with. */
const GATEWAY_COMMANDS: readonly [string[], string][] = [
  [['up'], 'usage: aaps up '],
  [['gateway'], 'usage: aaps gateway --config'],
  [['gateway', 'init'], 'usage: aaps gateway init '],
  [['approver', 'init'], 'usage: aaps approver init --approver ID'],
  [['approver'], 'usage: aaps approver init --approver ID'],
  [['submit'], 'usage: aaps submit FILE --source'],
  [['approve'], 'usage: aaps approve INCIDENT'],
  [['unseal'], 'usage: aaps unseal EVIDENCE --reason TEXT'],
  [['keys'], 'usage: aaps keys [flags]'],
  [['keys', 'refresh'], 'usage: aaps keys refresh --reason TEXT'],
  [['log', 'audit'], 'usage: aaps log audit '],
  [['log'], 'usage: aaps log audit '],
  [['openapi'], 'usage: aaps openapi'],
];

/** `aaps party ...`: the party binary prints its own. */
const PARTY_COMMANDS: readonly [string[], string][] = [
  [['party'], 'usage: aaps party --config'],
  [['party', 'init'], 'usage: aaps party init --id ID --role ROLE'],
  [['party', 'backup'], 'usage: aaps party backup '],
  [['party', 'restore'], 'usage: aaps party restore '],
  [['party', 'audit'], 'usage: aaps party audit '],
  [['party', 'policy'], 'usage: aaps party policy --role ROLE'],
];

const cases = (table: readonly [string[], string][]) =>
  table.flatMap(([argv, head]) =>
    ['--help', '-h'].map((flag) => ({ argv: [...argv, flag], head, name: [...argv, flag].join(' ') })),
  );

describe('aaps <command> --help: its own usage', () => {
  it.each(cases(GATEWAY_COMMANDS))('aaps $name', async ({ argv, head }) => {
    const r = await runCapture(argv);
    expect(r.code).toBe(0);
    expect(r.err).toEqual([]);
    expect(r.out.startsWith(head), r.out).toBe(true);
    expect(r.out).not.toContain(GENERAL);
  });

  it.each(GATEWAY_COMMANDS)('aaps help %j: the same usage as --help', async (argv) => {
    const help = await runCapture(['help', ...argv]);
    expect(help.code).toBe(0);
    expect(help.out).toBe((await runCapture([...argv, '--help'])).out);
  });

  it('every command of the general usage is in the table above', () => {
    // A command added to `aaps --help` without a usage of its own fails here.
    const listed = USAGE.split('\n')
      .map((l) => /^ {2}([a-z]+)(?: (init|refresh|audit)\b)?/.exec(l))
      .filter((m) => m !== null)
      .map((m) => [m[1], m[2]].filter(Boolean).join(' '));
    const tabled = [...GATEWAY_COMMANDS, ...PARTY_COMMANDS].map(([argv]) => argv.join(' '));
    expect(listed.filter((c) => !tabled.includes(c))).toEqual([]);
  });

  it('an unknown command with --help is a usage error, not the general usage', async () => {
    const r = await runCapture(['frobnicate', '--help']);
    expect(r.code).toBe(2);
    expect(r.err).toEqual(['aaps: unknown command frobnicate (try aaps help)']);
    expect(r.out).toBe('');
  });
});

describe("a client command's --help: where its token comes from (user-journey review)", () => {
  // Before: `aaps submit --help` said the token is "generated and stored 0600 when unset", which
  // only `aaps up` and `aaps gateway` do; a client reads the one `aaps up` stored.
  it.each(['submit', 'approve', 'unseal', 'keys', 'keys refresh', 'keys repair', 'log audit'])(
    'aaps %s --help',
    async (command) => {
      const r = await runCapture([...command.split(' '), '--help']);
      const line = r.out.split('\n').find((l) => l.startsWith('  --api-token'));
      expect(line).toMatch(/ bearer token \(default: the one aaps up stored in <data-dir>\/api-token\)$/);
    },
  );

  it('aaps up --help still says it makes the token', async () => {
    const r = await runCapture(['up', '--help']);
    expect(r.out).toContain('admin bearer token (generated and stored 0600 when unset)');
  });
});

describe('aaps party <sub> --help: the party binary, as a process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aaps-help-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // Each case starts two processes (aaps, then the party binary): `--help` for every command,
  // `-h` for one (the party binary reads both alike; the gateway side hands either over).
  const partyCases = cases(PARTY_COMMANDS).filter(
    (c) => c.argv.at(-1) === '--help' || c.name === 'party init -h',
  );
  it.each(partyCases)(
    'aaps $name',
    async ({ argv, head }) => {
      const r = await runAaps(argv, dir);
      expect(r.code).toBe(0);
      expect(r.out.startsWith(head), r.out).toBe(true);
      expect(r.out).not.toContain(GENERAL);
    },
    30_000,
  );
});
