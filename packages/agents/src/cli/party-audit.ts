/**
 * `aaps party audit --config F`: print a stopped party's own audit trail (what it signed and
 * refused, keys it installed, backups and restores, releases of sealed fields, checkpoints it
 * witnessed), one JSON object per line, oldest first: `{"seq":N,"at":…,"event":…,"session":…,
 * "detail":{…}}`, byte strings as hex. It holds no secret (docs/sealing.md, docs/threat-model.md).
 *
 * It opens the party's LevelDB, which a running party holds locked: while the party runs it is
 * refused with one line, exit 1 (stop the party, read, start it again). Exit 0 once the trail is
 * printed (or its reader left: `| head`); 1 when refused (the party runs, no database there, an
 * entry that does not decode); 2 on a usage error or a config or data key it cannot read.
 */
import { bytesToHex, ValidationError } from '@aaps/mpc-core';
import { loadPartyConfig, loadPartyDataKey, openStoppedPartyStore } from './stopped-party.js';

export const AUDIT_USAGE =
  "usage: aaps party audit --config F   print the party's audit trail as JSON lines (the party must be stopped)";

export interface AuditIo {
  out(line: string): void;
  err(line: string): void;
  /** Whether the reader of `out` left (then the walk stops quietly). */
  gone(): boolean;
}

/** This process's stdout and stderr; a stdout write error (EPIPE: `| head`) ends the output. */
function processIo(): AuditIo {
  let gone = false;
  process.stdout.on('error', () => {
    gone = true;
  });
  return {
    out: (line) => {
      if (!gone) process.stdout.write(`${line}\n`);
    },
    err: (line) => process.stderr.write(`${line}\n`),
    gone: () => gone,
  };
}

/** An entry as JSON: byte strings as hex, big integers as decimal strings. */
function entryLine(entry: object): string {
  // The member as stored, before a Buffer's own toJSON turns it into {type, data}.
  return JSON.stringify(entry, function (this: Record<string, unknown>, key: string, value: unknown) {
    const raw = this[key];
    return raw instanceof Uint8Array ? bytesToHex(raw) : typeof raw === 'bigint' ? raw.toString() : value;
  });
}

/** `aaps party audit --config F`. Returns the exit code. */
export async function runPartyAudit(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: AuditIo = processIo(),
): Promise<number> {
  const prefix = 'aaps party audit';
  if (argv.some((a) => a === '--help' || a === '-h')) {
    io.out(AUDIT_USAGE);
    return 0;
  }
  try {
    const config = loadPartyConfig(argv, env);
    const store = await openStoppedPartyStore(config, () => loadPartyDataKey(config, false), true);
    try {
      for await (const entry of store.auditEntries()) {
        if (io.gone()) break;
        io.out(entryLine(entry));
      }
    } finally {
      await store.close();
    }
    return 0;
  } catch (e) {
    io.err(`${prefix}: ${e instanceof Error ? e.message : String(e)}`);
    return e instanceof ValidationError ? 2 : 1;
  }
}
