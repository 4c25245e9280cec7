/**
 * Every Lambda function keygate deploys, defined once: the build, the CDK
 * construct, the local stack and the benchmark all iterate over this
 * catalogue. Import-free: the construct and the Lambda side both read it.
 */
export interface FunctionDefinition {
  /** Stable name: local function name, bundle folder, and construct id stem. */
  readonly name: string;
  readonly description: string;
  /** Part of the session half (sessions and users tables): left out when sessions are off. */
  readonly sessions?: boolean;
  /** Lambda timeout. @default DEFAULT_TIMEOUT_SECONDS */
  readonly timeoutSeconds?: number;
}

export const DEFAULT_TIMEOUT_SECONDS = 10;

export const FUNCTIONS = {
  apiKeyAuthorizer: {
    name: 'api-key-authorizer',
    description: 'keygate: REQUEST authorizer for API keys (x-api-key or the configured header)',
  },
  sessionAuthorizer: {
    name: 'session-authorizer',
    description: 'keygate: REQUEST authorizer for Authorization: Bearer session tokens',
    sessions: true,
  },
  whoami: {
    name: 'whoami',
    description: 'keygate: GET whoami, echoes the API-key authorizer context',
  },
  sdkUsersAuth: {
    name: 'sdkusers-auth',
    description: 'keygate: POST sdkusers/auth, finds or creates a user and issues a session token',
    sessions: true,
  },
  sdkUsersMe: {
    name: 'sdkusers-me',
    description: 'keygate: GET sdkusers/me, the session user',
    sessions: true,
  },
  revokeKeys: {
    name: 'revoke-keys',
    description: 'keygate: POST /api/v1/keys/revoke, public: deletes the reported keys that exist',
  },
  createKey: {
    name: 'create-key',
    description: 'keygate admin: create an API key for an application',
  },
  listKeys: {
    name: 'list-keys',
    description: 'keygate admin: list the API keys of an application',
  },
  deleteKey: {
    name: 'delete-key',
    description: 'keygate admin: delete an API key',
  },
  rollKey: {
    name: 'roll-key',
    description: 'keygate admin: replace an API key with a new one, the old one kept for a grace period',
  },
  updateKey: {
    name: 'update-key',
    description: 'keygate admin: rename an API key, set or clear its expiry, disable or enable it',
  },
  listKeyEvents: {
    name: 'list-key-events',
    description: "keygate admin: the activity log of an application's API keys",
  },
  importKeys: {
    name: 'import-keys',
    description: 'keygate admin: import existing API keys (plaintext or SHA-256 hash) for an application',
  },
  listApps: {
    name: 'list-apps',
    description: 'keygate admin: list the applications that have keys',
  },
  getApp: {
    name: 'get-app',
    description: 'keygate admin: one application: its plan, key count and creation time',
  },
  setAppPlan: {
    name: 'set-app-plan',
    description: 'keygate admin: put an application on a plan (its API Gateway usage plan), or take it off',
  },
  revokeSessions: {
    name: 'revoke-sessions',
    description: 'keygate admin: end sessions of a user, of a key, or one session',
    sessions: true,
    // Ends sessions one conditional delete each; a big batch continues in a next call (see the output's `incomplete`).
    timeoutSeconds: 60,
  },
  deleteUser: {
    name: 'delete-user',
    description: "keygate admin: erase a user's record and end every session of theirs",
    sessions: true,
    timeoutSeconds: 60,
  },
  sealRecords: {
    name: 'seal-records',
    description: 'keygate admin: seal the key, session and app plan items written before records were sealed (one-off, on upgrade)',
    // Scans both tables (and queries the app registry) a page at a time; a big table continues in a next call (see the output's `nextToken`).
    timeoutSeconds: 300,
  },
} as const satisfies Record<string, FunctionDefinition>;

export type FunctionId = keyof typeof FUNCTIONS;

/** Keys one import-keys call takes, all stored or none: 3 items each and the registry item fit one transaction. */
export const MAX_IMPORT_KEYS = 25;

export const ADMIN_FUNCTIONS = [
  'createKey',
  'listKeys',
  'deleteKey',
  'rollKey',
  'updateKey',
  'listKeyEvents',
  'importKeys',
  'listApps',
  'getApp',
  'setAppPlan',
  'revokeSessions',
  'deleteUser',
  'sealRecords',
] as const satisfies readonly FunctionId[];
export type AdminFunctionId = (typeof ADMIN_FUNCTIONS)[number];

/** Whether a function belongs to the session half. */
export function isSessionFunction(id: FunctionId): boolean {
  return (FUNCTIONS[id] as FunctionDefinition).sessions === true;
}

/** The stack output naming an admin function, e.g. `createKey` → `CreateKeyFunctionName`; the CLI reads it. */
export function adminFunctionOutput(id: AdminFunctionId): string {
  return `${id.charAt(0).toUpperCase()}${id.slice(1)}FunctionName`;
}

/** Lambda runtime the bundles target (esbuild `target`, the construct's `nodejs<N>.x`). */
export const NODE_RUNTIME_MAJOR = 24;

/** Every function is deployed as `<bundle folder>/index.mjs` exporting `handler`. */
export const BUNDLE_FILE = 'index.mjs';
export const BUNDLE_HANDLER = 'index.handler';
