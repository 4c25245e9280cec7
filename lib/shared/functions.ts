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
  getApp: {
    name: 'get-app',
    description: 'keygate admin: one application: its plan, key count and creation time',
  },
  setAppPlan: {
    name: 'set-app-plan',
    description: "keygate admin: put an application on a plan (its API Gateway usage plan), or take it off",
  },
} as const satisfies Record<string, FunctionDefinition>;

export type FunctionId = keyof typeof FUNCTIONS;

export const ADMIN_FUNCTIONS = ['createKey', 'listKeys', 'deleteKey', 'getApp', 'setAppPlan'] as const satisfies readonly FunctionId[];

/** Lambda runtime the bundles target (esbuild `target`, the construct's `nodejs<N>.x`). */
export const NODE_RUNTIME_MAJOR = 24;

/** Every function is deployed as `<bundle folder>/index.mjs` exporting `handler`. */
export const BUNDLE_FILE = 'index.mjs';
export const BUNDLE_HANDLER = 'index.handler';
