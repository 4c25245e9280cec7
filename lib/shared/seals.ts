/**
 * What sealed records seal (functions/domain/seal.ts), defined once: the
 * encoding, the seal-records function and its IAM conditions all read these.
 * Import-free: the construct and the Lambda side both import it.
 */

/** The attribute that holds the seal, on `hash#` (keys table) and `token#` (sessions table) items, and on app registry items with a plan. */
export const SEAL_ATTRIBUTE = 'seal';

/**
 * The fields sealed, in encoding order (after the item's own hash, its pk):
 * for a key, what the API-key authorizer decides on; for a session, what the
 * session authorizer decides on or passes on, and the key that opened it;
 * for an app's registry item (`apps / app#<appUid>`, sealed under its appUid),
 * its plan: the gateway key create-key, import-keys and roll-key copy onto
 * new keys (and so seal), and the gateway key id set-app-plan deletes.
 * `gatewayKey` is the app's usage-plan key, which the authorizers return as
 * `usageIdentifierKey`: API Gateway meters and throttles by it.
 * A field the authorizers start deciding on must be added here (at the end:
 * existing seals of items without it stay valid); reordering or removing
 * fields is a new seal version.
 */
export const SEALED_FIELDS = {
  key: ['appUid', 'keyId', 'expiresAt', 'enabled', 'gatewayKey'],
  session: ['sessionId', 'appUid', 'userId', 'userKey', 'expiresAt', 'createdByKeyId', 'gatewayKey'],
  app: ['plan', 'gatewayKeyId', 'gatewayKey'],
} as const;

export type SealedKind = keyof typeof SEALED_FIELDS;
