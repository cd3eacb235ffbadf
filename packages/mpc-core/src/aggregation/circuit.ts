/**
 * Declarative aggregation circuits (`circuits/*.json`): named inputs, each provided by a role with
 * an integer range (and an optional fixed-point scale), and outputs that are public weighted sums
 * of inputs plus a public constant. Linear only: every party evaluates on its own shares.
 *
 * {@link loadCircuit} is pure validation: it gathers every problem as a dot path and refuses, with
 * `ValidationError('CIRCUIT_INVALID')`, any circuit whose worst-case output could wrap around the
 * scalar field (outputs are read back as signed integers in `(-q/2, q/2)`).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '../bytes.js';
import { displayValue } from '../codec.js';
import { canonicalBytes, type JsonValue } from '../envelope/canonical.js';
import { ValidationError } from '../errors.js';
import { assertObject, optionsOf } from '../guards.js';
import { ciphersuites } from '../suite/registry.js';

export const CIRCUIT_FORMAT = 'aaps-circuit/v1';
/** Width limit of one input's range (range proofs grow with it): `max - min < 2^64`. */
export const MAX_INPUT_RANGE_BITS = 64;
/** Limit on the magnitude of any bound, weight or constant written in a circuit. */
export const MAX_CIRCUIT_INTEGER = 1n << 128n;
/**
 * Longest vector input. Each element needs its own generator, derived by hash-to-curve once per
 * process (about 0.36 ms each here), and a vector's commitments cost a multi-scalar
 * multiplication over its length.
 */
export const MAX_VECTOR_LENGTH = 16_384;

/** The smallest scalar field among the supported ciphersuites (Ed25519's): the default wrap bound. */
export const DEFAULT_FIELD_ORDER: bigint = [
  ciphersuites.ed25519.field.ORDER,
  ciphersuites.secp256k1.field.ORDER,
  ciphersuites.secp256k1tr.field.ORDER,
].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))[0]!;

export interface CircuitInput {
  readonly name: string;
  readonly role: string;
  readonly min: bigint;
  readonly max: bigint;
  /** Fixed-point scale: the integer is the real value times `scale`. */
  readonly scale: number;
  /** Whether providers must prove the range (NIZK); `false` trusts them to stay in it. */
  readonly rangeProof: boolean;
  /**
   * Elements: 1 for a scalar input; more for a vector input, whose every element lies in the range
   * and which is committed to as a whole (one Pedersen vector commitment per coefficient).
   */
  readonly length: number;
  /**
   * The public value this input takes (every element, for a vector) when its provider is excluded
   * from a round (JSON `"excluded": {"value": n}`, within the range); `undefined`: the circuit
   * cannot run without this provider, and a round that would exclude it fails instead.
   */
  readonly substitute?: bigint;
}

export interface CircuitTerm {
  readonly input: string;
  /** Index of the input in {@link Circuit.inputs}. */
  readonly index: number;
  readonly weight: bigint;
}

export interface CircuitOutput {
  readonly name: string;
  readonly terms: readonly CircuitTerm[];
  readonly constant: bigint;
  /** The common scale of the output's inputs. */
  readonly scale: number;
  /** Worst-case bounds of the output (of each element of a vector output) over in-range inputs. */
  readonly min: bigint;
  readonly max: bigint;
  /** Elements: 1, or the common length of the vector inputs it sums element-wise. */
  readonly length: number;
}

export interface Circuit {
  readonly id: string;
  readonly version: number;
  readonly description: string;
  readonly inputs: readonly CircuitInput[];
  readonly outputs: readonly CircuitOutput[];
  /** Index in {@link inputs} by input name. */
  readonly inputIndex: ReadonlyMap<string, number>;
  /** The normalized JSON (what {@link digest} covers and what records embed). */
  readonly json: JsonValue;
  /** SHA-256 of the RFC 8785 canonical bytes of {@link json}. */
  readonly digest: Uint8Array;
  readonly digestHex: string;
}

const NAME = /^[a-z][a-z0-9]*(?:[._-][a-z0-9]+)*$/;
const DECIMAL = /^-?(?:0|[1-9][0-9]*)$/;

type Obj = Record<string, unknown>;

class Issues {
  readonly list: { path: string; msg: string }[] = [];
  add(path: string, msg: string): void {
    this.list.push({ path, msg });
  }
}

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function allowKeys(o: Obj, allowed: readonly string[], path: string, issues: Issues): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) issues.add(`${path}.${k}`, 'unknown field');
}

function readName(v: unknown, path: string, issues: Issues): string | undefined {
  if (typeof v !== 'string' || v.length > 64 || !NAME.test(v)) {
    issues.add(path, 'expected a name: lower-case letters and digits separated by . _ - (at most 64)');
    return undefined;
  }
  return v;
}

function readInt(v: unknown, path: string, issues: Issues): bigint | undefined {
  let n: bigint | undefined;
  if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
  else if (typeof v === 'string' && DECIMAL.test(v) && v.length <= 60) n = BigInt(v);
  if (n === undefined) {
    issues.add(path, 'expected an integer (a safe JSON integer or a decimal string)');
    return undefined;
  }
  if (n > MAX_CIRCUIT_INTEGER || n < -MAX_CIRCUIT_INTEGER) {
    issues.add(path, 'integer magnitude above 2^128');
    return undefined;
  }
  return n;
}

/** Integers in normalized JSON: numbers when safe, decimal strings otherwise. */
function intJson(n: bigint): JsonValue {
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(n)
    : n.toString();
}

/**
 * Validate a circuit definition (parsed JSON). Throws `ValidationError('CIRCUIT_INVALID')` whose
 * `fields` hold every offending dot path; the message lists `path: problem` for each.
 * @param opts.fieldOrder the scalar field to check wrap-around against (default: the smallest
 *   supported, so the circuit is safe under every ciphersuite).
 */
export function loadCircuit(json: unknown, opts: { fieldOrder?: bigint } = {}): Circuit {
  optionsOf(opts, 'opts');
  if (opts.fieldOrder !== undefined && (typeof opts.fieldOrder !== 'bigint' || opts.fieldOrder < 3n)) {
    throw new ValidationError('INVALID_ARGUMENT', 'opts.fieldOrder: expected a bigint field order', [
      'opts.fieldOrder',
    ]);
  }
  const issues = new Issues();
  const q = opts.fieldOrder ?? DEFAULT_FIELD_ORDER;
  if (!isObj(json)) {
    throw new ValidationError('CIRCUIT_INVALID', 'circuit: expected an object', ['circuit']);
  }
  allowKeys(json, ['format', 'id', 'version', 'description', 'inputs', 'outputs'], 'circuit', issues);
  if (json.format !== CIRCUIT_FORMAT) issues.add('circuit.format', `expected "${CIRCUIT_FORMAT}"`);
  const id = readName(json.id, 'circuit.id', issues);
  const version = json.version;
  if (!Number.isSafeInteger(version) || (version as number) < 1) {
    issues.add('circuit.version', 'expected a positive integer');
  }
  const description = json.description ?? '';
  if (typeof description !== 'string' || description.length > 1000) {
    issues.add('circuit.description', 'expected a string of at most 1000 characters');
  }

  const inputs: CircuitInput[] = [];
  const inputIndex = new Map<string, number>();
  if (!Array.isArray(json.inputs) || json.inputs.length === 0 || json.inputs.length > 100_000) {
    issues.add('circuit.inputs', 'expected a non-empty array (at most 100000)');
  } else {
    json.inputs.forEach((raw: unknown, i) => {
      const p = `circuit.inputs[${i}]`;
      if (!isObj(raw)) {
        issues.add(p, 'expected an object');
        return;
      }
      allowKeys(raw, ['name', 'role', 'range', 'scale', 'rangeProof', 'length', 'excluded'], p, issues);
      const name = readName(raw.name, `${p}.name`, issues);
      const role = readName(raw.role, `${p}.role`, issues);
      let min: bigint | undefined;
      let max: bigint | undefined;
      if (!isObj(raw.range)) issues.add(`${p}.range`, 'expected {min, max}');
      else {
        allowKeys(raw.range, ['min', 'max'], `${p}.range`, issues);
        min = readInt(raw.range.min, `${p}.range.min`, issues);
        max = readInt(raw.range.max, `${p}.range.max`, issues);
        if (min !== undefined && max !== undefined) {
          if (max <= min) issues.add(`${p}.range.max`, 'must be greater than range.min');
          else if ((max - min).toString(2).length > MAX_INPUT_RANGE_BITS) {
            issues.add(`${p}.range`, `max - min must be below 2^${MAX_INPUT_RANGE_BITS}`);
          }
        }
      }
      const scale = raw.scale ?? 1;
      if (!Number.isSafeInteger(scale) || (scale as number) < 1)
        issues.add(`${p}.scale`, 'expected a positive integer');
      const rangeProof = raw.rangeProof ?? true;
      if (typeof rangeProof !== 'boolean') issues.add(`${p}.rangeProof`, 'expected a boolean');
      const length = raw.length ?? 1;
      if (
        raw.length !== undefined &&
        (!Number.isSafeInteger(length) || (length as number) < 2 || (length as number) > MAX_VECTOR_LENGTH)
      ) {
        issues.add(
          `${p}.length`,
          `expected an integer in [2, ${MAX_VECTOR_LENGTH}] (omit it for a scalar input)`,
        );
      } else if (raw.length !== undefined && rangeProof === true) {
        issues.add(
          `${p}.rangeProof`,
          'range proofs cover scalar inputs only: a vector input needs "rangeProof": false',
        );
      }
      let substitute: bigint | undefined;
      if (raw.excluded !== undefined) {
        if (!isObj(raw.excluded) || raw.excluded.value === undefined) {
          issues.add(
            `${p}.excluded`,
            'expected {"value": n}: the public value an excluded provider\'s input takes',
          );
        } else {
          allowKeys(raw.excluded, ['value'], `${p}.excluded`, issues);
          substitute = readInt(raw.excluded.value, `${p}.excluded.value`, issues);
          if (substitute !== undefined && min !== undefined && max !== undefined) {
            if (substitute < min || substitute > max) {
              issues.add(`${p}.excluded.value`, `must lie in the input's range [${min}, ${max}]`);
              substitute = undefined;
            }
          }
        }
      }
      if (name !== undefined) {
        if (inputIndex.has(name)) issues.add(`${p}.name`, `duplicate input "${name}"`);
        else inputIndex.set(name, inputs.length);
      }
      inputs.push({
        name: name ?? '',
        role: role ?? '',
        min: min ?? 0n,
        max: max ?? 0n,
        scale: scale as number,
        rangeProof: rangeProof as boolean,
        length: Number.isSafeInteger(length) ? (length as number) : 1,
        ...(substitute !== undefined ? { substitute } : {}),
      });
    });
  }

  const outputs: CircuitOutput[] = [];
  const outputNames = new Set<string>();
  const half = (q - 1n) / 2n;
  if (!Array.isArray(json.outputs) || json.outputs.length === 0 || json.outputs.length > 100_000) {
    issues.add('circuit.outputs', 'expected a non-empty array (at most 100000)');
  } else {
    json.outputs.forEach((raw: unknown, i) => {
      const p = `circuit.outputs[${i}]`;
      if (!isObj(raw)) {
        issues.add(p, 'expected an object');
        return;
      }
      allowKeys(raw, ['name', 'terms', 'constant'], p, issues);
      const name = readName(raw.name, `${p}.name`, issues);
      if (name !== undefined) {
        if (outputNames.has(name)) issues.add(`${p}.name`, `duplicate output "${name}"`);
        outputNames.add(name);
      }
      const constant = raw.constant === undefined ? 0n : readInt(raw.constant, `${p}.constant`, issues);
      const terms: CircuitTerm[] = [];
      let scale: number | undefined;
      let length: number | undefined;
      let ok = constant !== undefined;
      if (!Array.isArray(raw.terms) || raw.terms.length === 0) {
        issues.add(`${p}.terms`, 'expected a non-empty array');
        ok = false;
      } else {
        const used = new Set<string>();
        raw.terms.forEach((t: unknown, j) => {
          const tp = `${p}.terms[${j}]`;
          if (!isObj(t)) {
            ok = false;
            issues.add(tp, 'expected {input, weight}');
            return;
          }
          allowKeys(t, ['input', 'weight'], tp, issues);
          const index = typeof t.input === 'string' ? inputIndex.get(t.input) : undefined;
          const weight = t.weight === undefined ? 1n : readInt(t.weight, `${tp}.weight`, issues);
          if (index === undefined) {
            ok = false;
            issues.add(`${tp}.input`, 'unknown input');
            return;
          }
          if (used.has(t.input as string)) issues.add(`${tp}.input`, 'input used twice in one output');
          used.add(t.input as string);
          if (weight === undefined) {
            ok = false;
            return;
          }
          if (weight === 0n) issues.add(`${tp}.weight`, 'must not be zero');
          const inScale = inputs[index]!.scale;
          if (scale === undefined) scale = inScale;
          else if (scale !== inScale) issues.add(`${tp}.input`, 'inputs of one output must share one scale');
          const inLength = inputs[index]!.length;
          if (length === undefined) length = inLength;
          else if (length !== inLength) {
            issues.add(
              `${tp}.input`,
              'inputs of one output must share one length (scalar, or vectors of one length)',
            );
          }
          terms.push({ input: t.input as string, index, weight });
        });
      }
      let min = constant ?? 0n;
      let max = constant ?? 0n;
      for (const t of terms) {
        const inp = inputs[t.index]!;
        const [lo, hi] = t.weight > 0n ? [inp.min, inp.max] : [inp.max, inp.min];
        min += t.weight * lo;
        max += t.weight * hi;
      }
      if (ok && (max > half || min < -half)) {
        issues.add(`${p}`, 'worst-case result could wrap around the scalar field');
      }
      outputs.push({
        name: name ?? '',
        terms,
        constant: constant ?? 0n,
        scale: scale ?? 1,
        min,
        max,
        length: length ?? 1,
      });
    });
  }

  if (issues.list.length > 0) {
    const fields = [...new Set(issues.list.map((x) => x.path))];
    throw new ValidationError(
      'CIRCUIT_INVALID',
      `invalid circuit: ${issues.list.map((x) => `${x.path}: ${x.msg}`).join('; ')}`,
      fields,
    );
  }
  const normalized: JsonValue = {
    format: CIRCUIT_FORMAT,
    id: id!,
    version: version as number,
    description: description as string,
    inputs: inputs.map((x) => ({
      name: x.name,
      role: x.role,
      range: { min: intJson(x.min), max: intJson(x.max) },
      scale: x.scale,
      rangeProof: x.rangeProof,
      ...(x.length > 1 ? { length: x.length } : {}),
      ...(x.substitute !== undefined ? { excluded: { value: intJson(x.substitute) } } : {}),
    })),
    outputs: outputs.map((o) => ({
      name: o.name,
      terms: o.terms.map((t) => ({ input: t.input, weight: intJson(t.weight) })),
      constant: intJson(o.constant),
    })),
  };
  const digest = sha256(canonicalBytes(normalized));
  return Object.freeze({
    id: id!,
    version: version as number,
    description: description as string,
    inputs: Object.freeze(inputs.map((x) => Object.freeze(x))),
    outputs: Object.freeze(outputs.map((o) => Object.freeze({ ...o, terms: Object.freeze(o.terms) }))),
    inputIndex: new ReadonlyIndex(inputIndex),
    json: normalized,
    digest,
    digestHex: bytesToHex(digest),
  });
}

/** A circuit made by {@link loadCircuit} (its index is the mark), or `ValidationError` naming `field`. */
export function checkCircuit(circuit: unknown, field = 'circuit'): asserts circuit is Circuit {
  const c = circuit as Partial<Circuit> | null;
  if (
    c === null ||
    typeof c !== 'object' ||
    !(c.inputIndex instanceof ReadonlyIndex) ||
    !Array.isArray(c.inputs) ||
    !Array.isArray(c.outputs)
  ) {
    throw new ValidationError('INVALID_ARGUMENT', `${field}: expected a circuit from loadCircuit`, [field]);
  }
}

/** A map that can be read and not changed, even by a caller that casts it (the circuit's index). */
class ReadonlyIndex implements ReadonlyMap<string, number> {
  readonly #map: Map<string, number>;
  constructor(map: Map<string, number>) {
    this.#map = map;
    Object.freeze(this);
  }
  get size(): number {
    return this.#map.size;
  }
  get(key: string): number | undefined {
    return this.#map.get(key);
  }
  has(key: string): boolean {
    return this.#map.has(key);
  }
  forEach(
    fn: (value: number, key: string, map: ReadonlyMap<string, number>) => void,
    thisArg?: unknown,
  ): void {
    for (const [k, v] of this.#map) fn.call(thisArg, v, k, this);
  }
  entries(): MapIterator<[string, number]> {
    return this.#map.entries();
  }
  keys(): MapIterator<string> {
    return this.#map.keys();
  }
  values(): MapIterator<number> {
    return this.#map.values();
  }
  [Symbol.iterator](): MapIterator<[string, number]> {
    return this.#map[Symbol.iterator]();
  }
}

/** An output with the inputs of excluded providers folded into its constant. */
export interface SubstitutedOutput {
  /** The terms of the inputs still dealt. */
  readonly terms: readonly CircuitTerm[];
  /** The output's constant plus `weight * substitute` for every excluded input it sums. */
  readonly constant: bigint;
  readonly length: number;
}

/**
 * The outputs as the parties evaluate them when the inputs at `excluded` (indices) take their
 * public substitutes: a substitute is a public constant (its shares are the constant itself, with
 * zero blinding; its commitment is `value*G`, no `H` part), so each excluded term moves into the
 * output's constant. Throws `ValidationError('CIRCUIT_INVALID')` naming the first excluded input
 * the circuit gives no substitute for.
 */
export function substitutedOutputs(circuit: Circuit, excluded: ReadonlySet<number>): SubstitutedOutput[] {
  checkCircuit(circuit);
  if (!(excluded instanceof Set)) {
    throw new ValidationError('INVALID_ARGUMENT', 'excluded: expected a Set of input indices', ['excluded']);
  }
  for (const i of excluded) {
    const inp = circuit.inputs[i];
    if (inp === undefined) {
      throw new ValidationError(
        'INVALID_ARGUMENT',
        `excluded: ${displayValue(i)} is not an input of ${circuit.id}`,
        ['excluded'],
      );
    }
    if (inp.substitute === undefined) {
      throw new ValidationError(
        'CIRCUIT_INVALID',
        `circuit ${circuit.id}: input ${inp.name} has no "excluded" value, so its provider cannot be excluded`,
        [`circuit.inputs[${i}].excluded`],
      );
    }
  }
  return circuit.outputs.map((o) => {
    let constant = o.constant;
    const terms: CircuitTerm[] = [];
    for (const t of o.terms) {
      if (excluded.has(t.index)) constant += t.weight * circuit.inputs[t.index]!.substitute!;
      else terms.push(t);
    }
    return { terms, constant, length: o.length };
  });
}

/** A circuit value: an integer, or the elements of a vector. */
export type CircuitValue = bigint | readonly bigint[];

/**
 * The circuit on plaintext integers (reference for tests and for auditors): a vector output is
 * the element-wise weighted sum of its vector inputs.
 */
export function evaluateCircuit(
  circuit: Circuit,
  values: Readonly<Record<string, CircuitValue>>,
): Map<string, CircuitValue> {
  checkCircuit(circuit);
  assertObject(values, 'values');
  const out = new Map<string, CircuitValue>();
  for (const o of circuit.outputs) {
    const acc: bigint[] = new Array<bigint>(o.length).fill(o.constant);
    for (const t of o.terms) {
      const v = values[t.input];
      const elements = typeof v === 'bigint' ? [v] : v;
      if (
        !Array.isArray(elements) ||
        elements.length !== o.length ||
        elements.some((e) => typeof e !== 'bigint')
      ) {
        throw new ValidationError(
          'INVALID_ARGUMENT',
          `values.${t.input}: expected ${o.length === 1 ? 'an integer' : `${o.length} integers`}`,
          [`values.${t.input}`],
        );
      }
      for (let i = 0; i < o.length; i++) acc[i] = acc[i]! + t.weight * elements[i]!;
    }
    out.set(o.name, o.length === 1 ? acc[0]! : acc);
  }
  return out;
}
