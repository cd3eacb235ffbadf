/**
 * What a party process tells the process that started it (`cluster.ts`) on the pipe at fd 3:
 * `aaps-party-listening` once its own server listens. The parent waits for this line, not
 * only for `/healthz` to answer at the party's URL, so a port another process took meanwhile
 * cannot pass for this party.
 */
export const PARTY_LISTENING = 'aaps-party-listening';
