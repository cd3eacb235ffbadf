/**
 * One command-line flag as every parser of the project reads it (the party binary's `config.ts`
 * parsePartyArgs, `cli/party-init.ts`, `cli/party-backup.ts`; the gateway's `config.ts` and
 * `cli/own-flags.ts`): `--name` or `--name=value`, split at the first `=` only, so a value keeps
 * every `=` of its own (`--data-dir=/srv/dept=sre`).
 */

export interface FlagArg {
  /** The flag's name without its dashes. */
  readonly name: string;
  /** The value after the first `=`, or `undefined` when the flag has none inline. */
  readonly inline: string | undefined;
}

/** `arg` split as a flag, or `undefined` if it is none (it does not start with `--`). */
export function splitFlag(arg: string): FlagArg | undefined {
  if (!arg.startsWith('--')) return undefined;
  const eq = arg.indexOf('=');
  return eq === -1
    ? { name: arg.slice(2), inline: undefined }
    : { name: arg.slice(2, eq), inline: arg.slice(eq + 1) };
}

/**
 * Whether a flag's next argument cannot be its value: there is none, or it is a flag itself
 * (`--id --role monitoring` misses the id; a value starting with `--` is given as `--id=--x`).
 */
export function missingValue(next: string | undefined): boolean {
  return next === undefined || next.startsWith('--');
}
