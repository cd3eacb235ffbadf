/**
 * Puts a new key in place at a party (DKG round 3, refresh round 3, repair step 3): on disk before
 * in use, so a key that failed to save is never served or signed with (the party keeps the one it
 * would hold after a restart); then the nonces drawn for the old share are dropped, as they must
 * never sign with the new one; then the audit entry.
 */
import type { PartyDeps, PartyState } from './context.js';

export async function installKey(
  deps: Pick<PartyDeps, 'store'>,
  state: PartyState,
  key: NonNullable<PartyState['key']>,
  audit: { event: string; session: string; at: string },
): Promise<void> {
  await deps.store.saveKey(key);
  state.key = key;
  const dropped = await deps.store.clearNonces();
  await deps.store.audit({
    at: audit.at,
    event: audit.event,
    session: audit.session,
    detail: { dropped_nonces: dropped },
  });
}
