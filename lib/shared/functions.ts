/**
 * Every Lambda function keygate deploys, defined once: the build, the CDK
 * construct, the local stack and the benchmark all iterate over this
 * catalogue. Import-free: the construct and the Lambda side both read it.
 */
export interface FunctionDefinition {
  /** Stable name: local function name, bundle folder, and construct id stem. */
  readonly name: string;
  readonly description: string;
}

export const FUNCTIONS = {
  apiKeyAuthorizer: {
    name: 'api-key-authorizer',
    description: 'keygate: REQUEST authorizer for the x-api-key header',
  },
  sessionAuthorizer: {
    name: 'session-authorizer',
    description: 'keygate: REQUEST authorizer for Authorization: Bearer session tokens',
  },
  whoami: {
    name: 'whoami',
    description: 'keygate: GET whoami, echoes the API-key authorizer context',
  },
  sdkUsersAuth: {
    name: 'sdkusers-auth',
    description: 'keygate: POST sdkusers/auth, finds or creates a user and issues a session token',
  },
  sdkUsersMe: {
    name: 'sdkusers-me',
    description: 'keygate: GET sdkusers/me, the session user',
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
} as const satisfies Record<string, FunctionDefinition>;

export type FunctionId = keyof typeof FUNCTIONS;

export const ADMIN_FUNCTIONS = ['createKey', 'listKeys', 'deleteKey', 'rollKey', 'updateKey', 'listKeyEvents'] as const satisfies readonly FunctionId[];

export type AdminFunctionId = (typeof ADMIN_FUNCTIONS)[number];

/**
 * The CloudFormation output naming an admin function in the keygate stack
 * (`createKey` → `CreateKeyFunctionName`); the CLI finds deployed functions by it.
 */
export function adminFunctionOutput(id: AdminFunctionId): string {
  return `${id.charAt(0).toUpperCase()}${id.slice(1)}FunctionName`;
}

/** Lambda runtime the bundles target (esbuild `target`, the construct's `nodejs<N>.x`). */
export const NODE_RUNTIME_MAJOR = 24;

/** Every function is deployed as `<bundle folder>/index.mjs` exporting `handler`. */
export const BUNDLE_FILE = 'index.mjs';
export const BUNDLE_HANDLER = 'index.handler';
