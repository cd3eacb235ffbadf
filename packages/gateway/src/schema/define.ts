/**
 * A tiny declarative schema layer: each schema is plain data (a {@link SchemaNode}) with a phantom
 * output type, so one definition both validates request bodies (`check.ts`) and emits JSON Schema /
 * OpenAPI 3.1 components (`emit.ts`). Every string, array and map is bounded.
 */

/** Longest string accepted unless a schema says otherwise. */
export const DEFAULT_MAX_LENGTH = 64 * 1024;
/** Most array items / map entries accepted unless a schema says otherwise. */
export const DEFAULT_MAX_ITEMS = 1000;

export type StringFormat = 'date-time' | 'uri';

interface NodeCommon {
  /** Hoisted as `#/components/schemas/<name>` when emitting OpenAPI components. */
  readonly name?: string;
  readonly description?: string;
}

export interface StringNode extends NodeCommon {
  readonly kind: 'string';
  readonly minLength: number;
  readonly maxLength: number;
  readonly pattern?: RegExp;
  readonly format?: StringFormat;
}
export interface NumberNode extends NodeCommon {
  readonly kind: 'number';
  readonly integer: boolean;
  readonly minimum?: number;
  readonly maximum?: number;
}
export interface BooleanNode extends NodeCommon {
  readonly kind: 'boolean';
}
export interface EnumNode extends NodeCommon {
  readonly kind: 'enum';
  readonly values: readonly string[];
}
export interface ArrayNode extends NodeCommon {
  readonly kind: 'array';
  readonly item: SchemaNode;
  readonly minItems: number;
  readonly maxItems: number;
}
/** What an object does with keys its shape does not name. */
export type UnknownKeys = 'strip' | 'passthrough' | 'reject';
export interface ObjectNode extends NodeCommon {
  readonly kind: 'object';
  readonly shape: Readonly<Record<string, SchemaNode>>;
  readonly unknownKeys: UnknownKeys;
}
export interface RecordNode extends NodeCommon {
  readonly kind: 'record';
  readonly value: SchemaNode;
  readonly minProperties: number;
  readonly maxProperties: number;
  readonly maxKeyLength: number;
}
export interface OptionalNode extends NodeCommon {
  readonly kind: 'optional';
  readonly inner: SchemaNode;
}
export interface NullableNode extends NodeCommon {
  readonly kind: 'nullable';
  readonly inner: SchemaNode;
}
export interface UnionNode extends NodeCommon {
  readonly kind: 'union';
  readonly options: readonly SchemaNode[];
  /** Picks the option that applies to a value (-1: none), so errors come from one shape only. */
  readonly select: (value: unknown) => number;
  /** What `select` looks at, for the "no shape matched" message. */
  readonly expected: string;
}
export interface UnknownNode extends NodeCommon {
  readonly kind: 'unknown';
}

export type SchemaNode =
  | StringNode
  | NumberNode
  | BooleanNode
  | EnumNode
  | ArrayNode
  | ObjectNode
  | RecordNode
  | OptionalNode
  | NullableNode
  | UnionNode
  | UnknownNode;

/** A schema: its node plus the TypeScript type a valid value has. */
export interface Schema<T> {
  readonly node: SchemaNode;
  /** Phantom: never set at run time. */
  readonly _output?: T;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

type Shape = Record<string, Schema<unknown>>;
type OptionalKeys<S extends Shape> = {
  [K in keyof S]: S[K] extends OptionalSchema<unknown> ? K : never;
}[keyof S];
type RequiredKeys<S extends Shape> = Exclude<keyof S, OptionalKeys<S>>;
type Simplify<T> = { [K in keyof T]: T[K] } & {};
export type ObjectOutput<S extends Shape> = Simplify<
  { [K in RequiredKeys<S>]: Infer<S[K]> } & { [K in OptionalKeys<S>]?: Infer<S[K]> }
>;

/** Marks a property that may be absent. */
export interface OptionalSchema<T> extends Schema<T | undefined> {
  readonly optional: true;
}

function make<T>(node: SchemaNode): Schema<T> {
  return Object.freeze({ node });
}

interface Described {
  name?: string;
  description?: string;
}

function common(opts: Described | undefined): NodeCommon {
  const out: { name?: string; description?: string } = {};
  if (opts?.name !== undefined) out.name = opts.name;
  if (opts?.description !== undefined) out.description = opts.description;
  return out;
}

export function string(
  opts: Described & { minLength?: number; maxLength?: number; pattern?: RegExp; format?: StringFormat } = {},
): Schema<string> {
  const node: StringNode = {
    kind: 'string',
    ...common(opts),
    minLength: opts.minLength ?? 0,
    maxLength: opts.maxLength ?? DEFAULT_MAX_LENGTH,
    ...(opts.pattern === undefined ? {} : { pattern: opts.pattern }),
    ...(opts.format === undefined ? {} : { format: opts.format }),
  };
  return make(node);
}

export function number(
  opts: Described & { integer?: boolean; minimum?: number; maximum?: number } = {},
): Schema<number> {
  const node: NumberNode = {
    kind: 'number',
    ...common(opts),
    integer: opts.integer ?? false,
    ...(opts.minimum === undefined ? {} : { minimum: opts.minimum }),
    ...(opts.maximum === undefined ? {} : { maximum: opts.maximum }),
  };
  return make(node);
}

export function integer(opts: Described & { minimum?: number; maximum?: number } = {}): Schema<number> {
  return number({ ...opts, integer: true });
}

export function boolean(opts: Described = {}): Schema<boolean> {
  return make({ kind: 'boolean', ...common(opts) });
}

export function enumOf<const V extends readonly [string, ...string[]]>(
  values: V,
  opts: Described = {},
): Schema<V[number]> {
  return make({ kind: 'enum', ...common(opts), values: [...values] });
}

export function literal<const V extends string>(value: V, opts: Described = {}): Schema<V> {
  return make({ kind: 'enum', ...common(opts), values: [value] });
}

export function array<T>(
  item: Schema<T>,
  opts: Described & { minItems?: number; maxItems?: number } = {},
): Schema<T[]> {
  return make({
    kind: 'array',
    ...common(opts),
    item: item.node,
    minItems: opts.minItems ?? 0,
    maxItems: opts.maxItems ?? DEFAULT_MAX_ITEMS,
  });
}

export function object<S extends Shape>(
  shape: S,
  opts: Described & { unknownKeys?: UnknownKeys } = {},
): Schema<ObjectOutput<S>> {
  const nodes: Record<string, SchemaNode> = {};
  for (const [key, schema] of Object.entries(shape)) nodes[key] = schema.node;
  return make({ kind: 'object', ...common(opts), shape: nodes, unknownKeys: opts.unknownKeys ?? 'strip' });
}

/** A map with free keys (labels, annotations). */
export function record<T>(
  value: Schema<T>,
  opts: Described & { minProperties?: number; maxProperties?: number; maxKeyLength?: number } = {},
): Schema<Record<string, T>> {
  return make({
    kind: 'record',
    ...common(opts),
    value: value.node,
    minProperties: opts.minProperties ?? 0,
    maxProperties: opts.maxProperties ?? DEFAULT_MAX_ITEMS,
    maxKeyLength: opts.maxKeyLength ?? 1024,
  });
}

export function optional<T>(inner: Schema<T>): OptionalSchema<T> {
  return Object.freeze({ node: { kind: 'optional', inner: inner.node } as const, optional: true as const });
}

export function nullable<T>(inner: Schema<T>): Schema<T | null> {
  return make({ kind: 'nullable', inner: inner.node });
}

/** Absent, `null` or a `T`, as Kubernetes and GitHub often send. */
export function nullish<T>(inner: Schema<T>): OptionalSchema<T | null> {
  return optional(nullable(inner));
}

/**
 * A union whose branch is chosen by `select` (e.g. by `kind` or by which key is present), so a
 * bad value is reported against one shape instead of every alternative.
 */
export function union<const O extends readonly Schema<unknown>[]>(
  options: O,
  select: (value: unknown) => number,
  opts: Described & { expected: string },
): Schema<Infer<O[number]>> {
  return make({
    kind: 'union',
    ...common(opts),
    options: options.map((o) => o.node),
    select,
    expected: opts.expected,
  });
}

/** Any JSON value, unchecked (kept as sent). */
export function unknown(opts: Described = {}): Schema<unknown> {
  return make({ kind: 'unknown', ...common(opts) });
}

/** Gives a schema a component name (and optionally a description) for OpenAPI. */
export function named<T>(name: string, schema: Schema<T>, description?: string): Schema<T> {
  return make({ ...schema.node, name, ...(description === undefined ? {} : { description }) });
}
