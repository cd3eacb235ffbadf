/**
 * What `aaps --help` prints, and what `aaps <command> [<sub>] --help` (or `aaps help <command>
 * [<sub>]`) prints: that command's own usage, with the settings it reads. `aaps party ...`
 * prints the party binary's own (packages/agents main.ts).
 */
import { SETTINGS, settingsHelp } from '../config.js';

export const USAGE = `usage: aaps <command> [flags]
  up                      gateway + 5 party processes on loopback (--local: parties in-process)
  gateway --config F      the gateway alone, against parties on their own hosts (DKG on first start)
  gateway init            create the gateway's key; print the roster to complete
  approver init --approver ID   (on the approver's machine) create a human approver's key; print its entry
  submit FILE --source alertmanager|argocd|github|kubernetes|envelope
  approve INCIDENT        show its proposal, then sign and post a human approval of it [--approver ID]
                          (asks y/N on a terminal; a script passes --digest PREFIX of the digest shown, or --yes)
                          [--reject --reason TEXT]: instead, reject it (ends the incident)
  unseal EVIDENCE --reason TEXT [--field ID|PATH]... [--approver ID | --approver-key FILE] [--trusted-root FILE | --trust-served-root] [--out FILE] [--json]
                          ask the parties to release sealed fields to an approver, open them locally
  keys                    the group key and each party's verifying share (GET /v1/keys)
  keys refresh --reason TEXT   refresh every party's key share through the running gateway; group key unchanged
  keys repair [PARTY...] --reason TEXT   repair lost or stale parties' shares from k holders (others may be down)
  log audit [--trusted-root F | --trust-served-root] [--checkpoint KEPT] [--save F]
                          walk the log's entries to its signed checkpoint's root; check it still holds KEPT
  party --config F        one party process
  party init --id ID --role ROLE --data-dir DIR [--host H] [--port P] [--url U] [--policy F] [--log-origin O]
                          create a party's keys and config; print its roster entry
  party backup|restore    a party's sealed key backup (docs/sealing.md)
  party audit --config F  a stopped party's own audit trail, as JSON lines
  party policy --role R   print role R's default policy (to copy into the party's policy file)
  openapi                 print the OpenAPI document
  --version               print the release (aaps party --version: the party's)
  <command> [<sub>] --help   that command's own usage (also: aaps help <command> [<sub>])
flags (each also an environment variable):
${settingsHelp()}`;

/** The settings only the client commands read: a server start ignores them. */
const CLIENT_ONLY = ['url', 'source', 'approver', 'approver-key', 'valid-for'];
/** What every client command reads: where the gateway is and the token (stored under --data-dir). */
const CLIENT = ['config', 'data-dir', 'api-token', 'url'];
const APPROVER = ['approver', 'approver-key', 'approvers'];
const SERVER = SETTINGS.map((s) => s.flag).filter((f) => !CLIENT_ONLY.includes(f));

interface CommandUsage {
  /** The command line, after `usage: aaps `. */
  readonly line: string;
  /** What it does, one or more lines. */
  readonly about: readonly string[];
  /** The settings it reads (flags without `--`), in {@link SETTINGS} order when printed. */
  readonly settings: readonly string[];
}

const KEYS: CommandUsage = {
  line: 'keys [flags]',
  about: ["the group key, the threshold and each party's verifying share (GET /v1/keys)"],
  settings: CLIENT,
};
const KEYS_REFRESH: CommandUsage = {
  line: 'keys refresh --reason TEXT [flags]',
  about: [
    "refresh every party's key share through the running gateway (an admin token; POST /v1/keys/refresh):",
    'new shares of the same group key, so every signature made stays valid',
  ],
  settings: CLIENT,
};
const KEYS_REPAIR: CommandUsage = {
  line: 'keys repair [PARTY...] --reason TEXT [flags]',
  about: [
    "repair parties' key shares onto the gateway's key package, each from k parties holding it (an admin token;",
    'POST /v1/keys/repair): the named parties, or every party that answers and is not on it (a wiped disk, a refresh',
    'it missed, an old backup restored); other parties may be down; group key and verifying shares unchanged',
  ],
  settings: CLIENT,
};
const LOG_AUDIT: CommandUsage = {
  line: 'log audit [--trusted-root F | --trust-served-root] [--checkpoint KEPT] [--save F] [flags]',
  about: [
    "check the transparency log: its latest checkpoint's k-of-n signature against your trusted root (--trusted-root F",
    'or the one pinned at <data-dir>/audit/trusted_root.json; with neither it refuses; --trust-served-root: take the',
    "gateway's own keys, a gateway that lies about them passes; a root others can write is refused), and every",
    "entry up to the checkpoint's root; --checkpoint KEPT: check the log still holds a checkpoint kept from an",
    'earlier audit; --save F: keep this checkpoint for the next one',
  ],
  settings: CLIENT,
};
const APPROVER_INIT: CommandUsage = {
  line: 'approver init --approver ID [flags]',
  about: [
    "on the approver's own machine: create a human approver's Ed25519 key (0600, <data-dir>/approvers/<ID>.key",
    'unless --approver-key) and print its entry for the roster\'s "approvers" (the key never leaves the machine)',
  ],
  settings: ['config', 'data-dir', ...APPROVER],
};

/** Each command's usage, by `command` or `command sub`. */
const COMMANDS: Readonly<Record<string, CommandUsage>> = {
  up: {
    line: 'up [--local] [flags]',
    about: [
      'the gateway and one party process per role (monitoring, problem-solver, strategy, quality-assurance,',
      'audit) on loopback, under --data-dir; --local: the parties in the gateway process (a demo)',
    ],
    settings: SERVER.filter((f) => !['roster', 'gateway-key'].includes(f)),
  },
  gateway: {
    line: 'gateway --config F [flags]',
    about: [
      "the gateway alone, against the roster's parties on their own hosts: on its first start (no",
      '<data-dir>/public-package.json) it runs the DKG across them, which must all be up',
    ],
    settings: SERVER.filter(
      (f) => !['local', 'party-policy-dir', 'parties', 'threshold', 'ciphersuite', 'approvers'].includes(f),
    ),
  },
  'gateway init': {
    line: 'gateway init [flags]',
    about: [
      "create the gateway's identity key (0600, <data-dir>/gateway/identity.key unless --gateway-key) and",
      "print the roster to complete with the parties' and approvers' entries",
    ],
    settings: ['config', 'data-dir', 'gateway-key', 'parties', 'threshold', 'ciphersuite'],
  },
  approver: APPROVER_INIT,
  'approver init': APPROVER_INIT,
  submit: {
    line: 'submit FILE --source alertmanager|argocd|github|kubernetes|envelope [flags]',
    about: [
      'post FILE (a webhook payload, or a signed IncidentSignal envelope) to the running gateway, then follow',
      'each incident it opened, printing each step',
    ],
    settings: [...CLIENT, 'source', 'github-webhook-secret'],
  },
  approve: {
    line: 'approve INCIDENT [--approver ID] [--digest PREFIX | --yes] [--reject --reason TEXT] [flags]',
    about: [
      "show the incident's proposal, then sign and post a human approval of it (asks y/N on a terminal;",
      'a script passes --digest PREFIX of the digest shown, or --yes); --reject --reason TEXT: instead,',
      'sign and post a rejection (ends the incident)',
    ],
    settings: [...CLIENT, ...APPROVER, 'valid-for', 'cluster'],
  },
  unseal: {
    line: 'unseal EVIDENCE --reason TEXT [--field ID|PATH]... [--approver ID | --approver-key FILE] [--trusted-root FILE | --trust-served-root] [--out FILE] [--json] [flags]',
    about: [
      "ask the parties to release an evidence bundle's sealed fields to an approver, and open them locally",
      '(the bundle must first verify under your trusted root, --trusted-root FILE or the one pinned at',
      '<data-dir>/approvers/trusted_root.json, and releases are checked against its roster; with neither it',
      "refuses, as it refuses a root others can write; --trust-served-root: take the gateway's bundle and party",
      'keys unchecked, a risk; --out FILE: write them there, 0600; --json: one JSON document)',
    ],
    settings: [...CLIENT, ...APPROVER],
  },
  keys: KEYS,
  'keys refresh': KEYS_REFRESH,
  'keys repair': KEYS_REPAIR,
  log: LOG_AUDIT,
  'log audit': LOG_AUDIT,
  openapi: { line: 'openapi', about: ['print the OpenAPI document of the gateway API (JSON)'], settings: [] },
};

/**
 * What a setting means to a client command (one that asks a running gateway: it reads `--url`),
 * where it differs from the server's: a client never makes a token, it reads the one `aaps up` stored.
 */
const CLIENT_HELP: Readonly<Record<string, string>> = {
  'api-token': 'bearer token (default: the one aaps up stored in <data-dir>/api-token)',
};

/** The settings named, one line each, in the order of `aaps --help`. */
function settingsLines(flags: readonly string[]): string {
  const client = flags.includes('url');
  return SETTINGS.filter((s) => flags.includes(s.flag))
    .map((s) => `  --${s.flag.padEnd(24)} ${s.env.padEnd(28)} ${(client && CLIENT_HELP[s.flag]) || s.help}`)
    .join('\n');
}

/**
 * The usage of `aaps <command> [<sub>]` (`args` are the command's arguments: a subcommand is
 * its first), or `undefined` for a command that has none of its own (`party`: the party prints
 * its own; an unknown command).
 */
export function commandUsage(command: string, args: readonly string[]): string | undefined {
  const sub = args[0];
  const usage = (sub === undefined ? undefined : COMMANDS[`${command} ${sub}`]) ?? COMMANDS[command];
  if (usage === undefined) return undefined;
  const lines = [`usage: aaps ${usage.line}`, ...usage.about.map((l) => `  ${l}`)];
  if (usage.settings.length > 0)
    lines.push('flags (each also an environment variable):', settingsLines(usage.settings));
  return lines.join('\n');
}

/** Every command and subcommand with a usage of its own, as `aaps <command> [<sub>]` takes them. */
export const COMMANDS_WITH_USAGE: readonly string[] = Object.keys(COMMANDS);
