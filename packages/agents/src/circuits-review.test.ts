/**
 * Review: circuits as a department or developer adds, changes and ships them (docs/aggregation.md
 * "Circuits"), through the party app that loads them (`createPartyApp`: the shipped `circuits/`,
 * then `<data dir>/circuits/`) and the package that carries them.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createPartyApp } from './party/app.js';
import { aggregationBodyAllowance, readCircuitCatalog } from './party/routes/aggregation.js';
import { fiveParties, partyDeps, ROLES } from './party/test-helpers/five-parties.js';
import type { PartyStore } from './store/level.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-circuits-review-'));
const stores: PartyStore[] = [];
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** Party 0's deps with `<dataDir>/circuits/` holding `files` (name -> circuit JSON). */
async function partyWithCircuits(files: Record<string, unknown>) {
  const dataDir = mkdtempSync(join(dir, 'data-'));
  mkdirSync(join(dataDir, 'circuits'));
  for (const [name, json] of Object.entries(files)) {
    writeFileSync(join(dataDir, 'circuits', name), JSON.stringify(json, null, 2));
  }
  const set = fiveParties();
  const deps = await partyDeps(set, 0, { dir, stores });
  deps.config = { ...deps.config, dataDir };
  return deps;
}

const scalar = (name: string, role: string, max = 100) => ({ name, role, range: { min: 0, max } });

/** A department's own circuit, valid but for what a test changes. */
const incidentCount = (over: Record<string, unknown> = {}) => ({
  format: 'aaps-circuit/v1',
  id: 'incident-count',
  version: 1,
  description: 'incidents each department handled this week; only the total is opened',
  inputs: ROLES.map((r) => scalar(`count.${r}`, r)),
  outputs: [{ name: 'total', terms: ROLES.map((r) => ({ input: `count.${r}` })) }],
  ...over,
});

describe('circuit files in a party data directory', () => {
  it('an invalid circuit file stops the party with an error that names the file', async () => {
    const bad = incidentCount();
    (bad.inputs[2] as { range: { min: number; max: number } }).range = { min: 100, max: 0 };
    const deps = await partyWithCircuits({
      'cost-by-team.json': { ...incidentCount(), id: 'cost-by-team' },
      'incident-count.json': bad,
      'vote-weights.json': { ...incidentCount(), id: 'vote-weights' },
    });
    let error: unknown;
    try {
      await createPartyApp(deps);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Error);
    // What the operator reads (`aaps party: <message>`) says what is wrong (circuit.inputs[2].range.max)…
    expect((error as Error).message).toContain('circuit.inputs[2].range.max');
    // …but not in which of the three files: the message and fields must name incident-count.json.
    const named = `${(error as Error).message} ${JSON.stringify((error as { fields?: unknown }).fields)}`;
    expect(named).toContain('incident-count.json');
  });

  it('a circuit file that gives a key twice is refused naming the file and the key', () => {
    const circuits = mkdtempSync(join(dir, 'twice-'));
    const file = join(circuits, 'incident-count.json');
    // JSON.parse keeps the last max (100); a reviewer reading the first sees a range of a million.
    writeFileSync(file, JSON.stringify(incidentCount()).replace('"max":100', '"max":1000000,"max":100'));
    let error: unknown;
    try {
      readCircuitCatalog([circuits]);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({
      code: 'DECODE_FAILED',
      message: `circuit file ${file}: inputs.0.range.max is given twice in one object (JSON parsers differ on which one counts)`,
      fields: [file],
    });
  });

  it('a circuit whose input names a role no roster party holds is refused when the party starts', async () => {
    // A typo ("auditor" for "audit"): no party can ever provide the input, so every round of
    // this circuit fails at agg.deal (CIRCUIT_INVALID, "no party has role"). The party knows its
    // roster when it loads its circuits, yet starts and lists the circuit as trusted.
    const typo = incidentCount();
    (typo.inputs[4] as { role: string }).role = 'auditor';
    const deps = await partyWithCircuits({ 'incident-count.json': typo });
    expect(deps.roster.parties.map((p) => p.role)).not.toContain('auditor');
    await expect(createPartyApp(deps)).rejects.toThrow(/auditor/);
  });

  it('a circuit too large for the capped aggregation body limit is refused, not trusted and unrunnable', async () => {
    // docs/aggregation.md: "So that every circuit a party trusts runs with the defaults, its
    // aggregation routes take max_body_bytes plus an allowance sized from its largest trusted
    // circuit ... at most 64 MiB in all". The loader accepts 100 vector inputs of 16,384
    // elements (20 per role); a receiver's agg.evaluate carries every input's share vector it was
    // sealed, about 43 bytes of base64 an element (the same page): more than the capped limit.
    const length = 16_384;
    const inputs = Array.from({ length: 100 }, (_, i) => ({
      name: `v${i}`,
      role: ROLES[i % 5]!,
      range: { min: 0, max: 1 },
      rangeProof: false,
      length,
    }));
    const big = {
      format: 'aaps-circuit/v1',
      id: 'big-vectors',
      version: 1,
      inputs,
      outputs: [{ name: 'sum', terms: inputs.map((x) => ({ input: x.name })) }],
    };
    const deps = await partyWithCircuits({ 'big-vectors.json': big });
    const catalog = readCircuitCatalog([join(deps.config.dataDir, 'circuits')]);
    expect(catalog.has('big-vectors')).toBe(true);
    const needed = inputs.length * length * 43;
    const limit = deps.config.maxBodyBytes + aggregationBodyAllowance(catalog, deps.suite);
    let started = true;
    try {
      await createPartyApp(deps);
    } catch {
      started = false;
    }
    // Either the party refuses the circuit it cannot run, or its limit takes the circuit's bodies.
    if (started) expect(limit).toBeGreaterThanOrEqual(needed);
  });
});

describe('the circuits the packaged @aaps/agents trusts', () => {
  it('an installed @aaps/agents (npm pack layout) still finds the shipped circuits', () => {
    // @aaps/agents is publishable (not private; files: dist, src). The shipped circuits are read
    // from SHIPPED_CIRCUITS_DIR, five levels above dist/party/routes/: the repository root in the
    // workspace, but node_modules/circuits/ once installed; a missing directory is skipped in
    // silence, so an installed party trusts no circuit and every agg.deal is CIRCUIT_INVALID (and
    // the coordinator's runAggregationOverHttp: "unknown circuit weighted-risk"). @aaps/mpc-core
    // ships them (dist/circuits/, exports "./circuits/*.json"); @aaps/agents does not use them.
    const agentsRoot = fileURLToPath(new URL('..', import.meta.url));
    const packed = execFileSync('npm', ['pack', '--dry-run', '--json'], {
      cwd: agentsRoot,
      encoding: 'utf8',
    });
    const files = (JSON.parse(packed) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    // Install exactly the packed files under a node_modules whose parent resolves the dependencies.
    const repoNodeModules = fileURLToPath(new URL('../../../node_modules/', import.meta.url));
    const prefix = mkdtempSync(join(repoNodeModules, '.circuits-review-'));
    try {
      const installed = join(prefix, 'node_modules', '@aaps', 'agents');
      for (const f of files) {
        mkdirSync(join(installed, f, '..'), { recursive: true });
        cpSync(join(agentsRoot, f), join(installed, f));
      }
      expect(JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')).name).toBe('@aaps/agents');
      const script = `
        const m = await import(${JSON.stringify(join(installed, 'dist', 'index.js'))});
        const catalog = m.readCircuitCatalog([m.SHIPPED_CIRCUITS_DIR]);
        console.log(JSON.stringify({ dir: m.SHIPPED_CIRCUITS_DIR, ids: [...catalog.keys()].sort() }));
      `;
      const out = JSON.parse(
        execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }),
      ) as { dir: string; ids: string[] };
      expect(out.ids).toEqual(['approval-tally', 'cost-total', 'weighted-risk']);
    } finally {
      rmSync(prefix, { recursive: true, force: true });
    }
  }, 60_000);
});
