/**
 * JSON Schema (2020-12, the dialect OpenAPI 3.1 uses) from the same {@link Schema} definitions
 * that validate requests, so the published document cannot drift from what the gateway accepts.
 */
import { ValidationError } from '@aaps/mpc-core';
import type { Schema, SchemaNode } from './define.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonSchema = { [key: string]: JsonValue };

interface EmitState {
  /** When set, named nodes are hoisted here and referenced with `$ref`. */
  readonly components: Map<string, JsonSchema> | undefined;
  readonly inProgress: Set<string>;
}

const REF_PREFIX = '#/components/schemas/';

function withCommon(node: SchemaNode, body: JsonSchema): JsonSchema {
  return node.description === undefined ? body : { description: node.description, ...body };
}

function allowNull(schema: JsonSchema): JsonSchema {
  const type = schema['type'];
  if (typeof type === 'string') return { ...schema, type: [type, 'null'] };
  if (Array.isArray(type)) return { ...schema, type: [...type, 'null'] };
  if (Array.isArray(schema['enum'])) return { ...schema, enum: [...schema['enum'], null] };
  return { anyOf: [schema, { type: 'null' }] };
}

function emitBody(node: SchemaNode, st: EmitState): JsonSchema {
  switch (node.kind) {
    case 'string': {
      const out: JsonSchema = { type: 'string', maxLength: node.maxLength };
      if (node.minLength > 0) out['minLength'] = node.minLength;
      if (node.pattern !== undefined) out['pattern'] = node.pattern.source;
      if (node.format !== undefined) out['format'] = node.format;
      return withCommon(node, out);
    }
    case 'number': {
      const out: JsonSchema = { type: node.integer ? 'integer' : 'number' };
      if (node.minimum !== undefined) out['minimum'] = node.minimum;
      if (node.maximum !== undefined) out['maximum'] = node.maximum;
      return withCommon(node, out);
    }
    case 'boolean':
      return withCommon(node, { type: 'boolean' });
    case 'enum':
      return withCommon(
        node,
        node.values.length === 1
          ? { type: 'string', const: node.values[0] ?? '' }
          : { type: 'string', enum: [...node.values] },
      );
    case 'array': {
      const out: JsonSchema = { type: 'array', items: emitNode(node.item, st), maxItems: node.maxItems };
      if (node.minItems > 0) out['minItems'] = node.minItems;
      return withCommon(node, out);
    }
    case 'record': {
      const out: JsonSchema = {
        type: 'object',
        additionalProperties: emitNode(node.value, st),
        maxProperties: node.maxProperties,
        propertyNames: { maxLength: node.maxKeyLength },
      };
      if (node.minProperties > 0) out['minProperties'] = node.minProperties;
      return withCommon(node, out);
    }
    case 'object': {
      const properties: { [key: string]: JsonValue } = {};
      const required: string[] = [];
      for (const [key, child] of Object.entries(node.shape)) {
        properties[key] = emitNode(child.kind === 'optional' ? child.inner : child, st);
        if (child.kind !== 'optional') required.push(key);
      }
      const out: JsonSchema = { type: 'object', properties };
      if (required.length > 0) out['required'] = required;
      if (node.unknownKeys === 'reject') out['additionalProperties'] = false;
      return withCommon(node, out);
    }
    case 'optional':
      return emitNode(node.inner, st);
    case 'nullable':
      return allowNull(emitNode(node.inner, st));
    case 'union':
      return withCommon(node, { oneOf: node.options.map((o) => emitNode(o, st)) });
    case 'unknown':
      return withCommon(node, {});
  }
}

function emitNode(node: SchemaNode, st: EmitState): JsonSchema {
  if (node.name === undefined || st.components === undefined) return emitBody(node, st);
  const ref = { $ref: `${REF_PREFIX}${node.name}` };
  if (st.components.has(node.name) || st.inProgress.has(node.name)) return ref;
  st.inProgress.add(node.name);
  st.components.set(node.name, emitBody(node, st));
  st.inProgress.delete(node.name);
  return ref;
}

/** One self-contained JSON Schema (named parts inlined). */
export function toJsonSchema(schema: Schema<unknown>): JsonSchema {
  return emitBody(schema.node, { components: undefined, inProgress: new Set() });
}

/**
 * OpenAPI 3.1 `components.schemas`: every schema given (each must be `named`) and every named
 * schema inside them, referenced by `$ref: "#/components/schemas/<name>"`.
 */
export function toOpenApiComponents(schemas: readonly Schema<unknown>[]): Record<string, JsonSchema> {
  const components = new Map<string, JsonSchema>();
  const st: EmitState = { components, inProgress: new Set() };
  for (const schema of schemas) {
    if (schema.node.name === undefined) {
      throw new ValidationError(
        'INVALID_ARGUMENT',
        'a top-level component schema needs a name (use named())',
      );
    }
    emitNode(schema.node, st);
  }
  const out: Record<string, JsonSchema> = {};
  for (const name of [...components.keys()].sort()) {
    const body = components.get(name);
    if (body !== undefined) out[name] = body;
  }
  return out;
}

/** `{ $ref }` to a named schema, for request/response bodies in an OpenAPI document. */
export function schemaRef(schema: Schema<unknown>): JsonSchema {
  return schema.node.name === undefined ? toJsonSchema(schema) : { $ref: `${REF_PREFIX}${schema.node.name}` };
}
