/** The Hono environment the gateway's middleware and routes share. */
export type Scope = 'submit' | 'approve' | 'read' | 'admin';
export const SCOPES: readonly Scope[] = ['submit', 'approve', 'read', 'admin'];

export interface Caller {
  /** The token's name (never the token). */
  name: string;
  scopes: readonly Scope[];
}

export interface GatewayEnv {
  Variables: {
    requestId: string;
    /** The request body exactly as received (set by the body-limit middleware). */
    rawBody: Uint8Array;
    caller: Caller;
  };
}
