/**
 * A deployment on separate hosts, set up with the CLI as docs/api.md ("Running on separate hosts")
 * walks an operator through it: each department runs `aaps party init`, an approver runs
 * `aaps approver init`, the gateway operator runs `aaps gateway init` and completes the roster,
 * which every host then holds. The parties are not started here.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PARTY_ROLES } from '@aaps/agents';
import { AAPS_CLI } from './aaps.js';

/** Run `aaps ARGS` to its end: its exit code and output. */
export function aapsSync(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [AAPS_CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Run `aaps ARGS`; a non-zero exit throws with its error output. */
function ok(...args: string[]): string {
  const r = aapsSync(...args);
  if (r.code !== 0) throw new Error(`aaps ${args.join(' ')}: exit ${r.code}\n${r.err}`);
  return r.out;
}

/** The JSON object a command prints after its text lines. */
const printedJson = (out: string) => JSON.parse(out.slice(out.indexOf('{')));

export interface Department {
  /** The department host's data directory (its `party.json`, `roster.json`, store). */
  dir: string;
  /** The roster entry `aaps party init` printed, with the FROST participant number. */
  entry: { id: string; url: string; index: number } & Record<string, unknown>;
}

/**
 * Five departments (`<role>-dept`, hosts `root/host-<role>`, on `ports[0..4]`), an approver
 * `oncall`, and the gateway's data directory `root/host-gateway` with the completed roster, which
 * every department's directory holds too.
 */
export function initDepartments(opts: { root: string; ports: readonly number[]; logOrigin: string }): {
  departments: Department[];
  gatewayDir: string;
  /** What `aaps gateway init` printed: the roster's gateway part, before the parties joined. */
  template: Record<string, unknown> & { gateway: { identity_key: string } };
  roster: Record<string, unknown> & { approvers: unknown[] };
} {
  // The roles `aaps up` runs, one department each.
  const departments = PARTY_ROLES.map((role, i) => {
    const dir = join(opts.root, `host-${role}`);
    const out = ok(
      'party',
      'init',
      '--id',
      `${role}-dept`,
      '--role',
      role,
      '--data-dir',
      dir,
      '--port',
      String(opts.ports[i]),
      '--log-origin',
      opts.logOrigin,
    );
    // The entry it prints, alone on stdout, with the participant number the operator gives it.
    return { dir, entry: { ...JSON.parse(out), index: i + 1 } };
  });
  const gatewayDir = join(opts.root, 'host-gateway');
  const template = printedJson(ok('gateway', 'init', '--data-dir', gatewayDir));
  const approver = printedJson(
    ok('approver', 'init', '--approver', 'oncall', '--data-dir', join(opts.root, 'host-approver')),
  );
  const roster = { ...template, parties: departments.map((d) => d.entry), approvers: [approver] };
  mkdirSync(gatewayDir, { recursive: true });
  const text = JSON.stringify(roster, null, 2);
  writeFileSync(join(gatewayDir, 'roster.json'), text);
  for (const d of departments) writeFileSync(join(d.dir, 'roster.json'), text);
  return { departments, gatewayDir, template, roster };
}
