/**
 * A command's own flags, taken out of its arguments before the rest go to the gateway's config
 * parser (`--url`, `--token`, ... ): switches (`--json`), flags with one value (`--reason TEXT` or
 * `--reason=TEXT`; the last one given counts) and flags that may repeat (`--field ID`). As the
 * config parser, a next argument that starts with `--` is no value: `--reason --json` misses its
 * reason (a value that starts with `--` is given as `--reason=--json`).
 */
import { missingValue, splitFlag } from '@aaps/agents';
import { ValidationError } from '@aaps/mpc-core';

export interface OwnFlagSpec {
  switches?: readonly string[];
  values?: readonly string[];
  lists?: readonly string[];
}

export interface OwnFlags {
  /** Everything else, in order, for the config parser. */
  rest: string[];
  switches: Set<string>;
  values: Map<string, string>;
  lists: Map<string, string[]>;
}

/**
 * Split `argv` by `spec`; a value flag without a value (none, an empty one, or the next flag) is a
 * usage error.
 */
export function takeOwnFlags(argv: readonly string[], spec: OwnFlagSpec): OwnFlags {
  const out: OwnFlags = { rest: [], switches: new Set(), values: new Map(), lists: new Map() };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const flag = splitFlag(arg);
    const name = flag?.name ?? '';
    const inline = flag?.inline;
    if (inline === undefined && spec.switches?.includes(name) === true) {
      out.switches.add(name);
      continue;
    }
    const list = spec.lists?.includes(name) === true;
    if (!list && spec.values?.includes(name) !== true) {
      out.rest.push(arg);
      continue;
    }
    const value = inline ?? argv[++i];
    if ((inline === undefined && missingValue(value)) || value === undefined || value === '')
      throw new ValidationError('INVALID_ARGUMENT', `--${name}: needs a value`, [name]);
    if (list) out.lists.set(name, [...(out.lists.get(name) ?? []), value]);
    else out.values.set(name, value);
  }
  return out;
}
