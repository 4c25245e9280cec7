import * as path from 'node:path';

/**
 * Every Lambda function keygate deploys, defined once: the CDK construct, the
 * local stack and the benchmark all iterate over this catalogue.
 */
export interface FunctionDefinition {
  /** Stable name: local function name, bundle folder, and construct id stem. */
  readonly name: string;
  /** Handler source, relative to the repository root. */
  readonly entry: string;
  readonly description: string;
}

export const FUNCTIONS = {
  apiKeyAuthorizer: {
    name: 'api-key-authorizer',
    entry: 'functions/api-key-authorizer/index.ts',
    description: 'keygate: REQUEST authorizer for the x-api-key header',
  },
  sessionAuthorizer: {
    name: 'session-authorizer',
    entry: 'functions/session-authorizer/index.ts',
    description: 'keygate: REQUEST authorizer for Authorization: Bearer session tokens',
  },
  whoami: {
    name: 'whoami',
    entry: 'functions/whoami/index.ts',
    description: 'keygate: GET whoami, echoes the API-key authorizer context',
  },
  sdkUsersAuth: {
    name: 'sdkusers-auth',
    entry: 'functions/sdkusers-auth/index.ts',
    description: 'keygate: POST sdkusers/auth, finds or creates a user and issues a session token',
  },
  sdkUsersMe: {
    name: 'sdkusers-me',
    entry: 'functions/sdkusers-me/index.ts',
    description: 'keygate: GET sdkusers/me, the session user',
  },
  createKey: {
    name: 'create-key',
    entry: 'functions/create-key/index.ts',
    description: 'keygate admin: create an API key for an application',
  },
  listKeys: {
    name: 'list-keys',
    entry: 'functions/list-keys/index.ts',
    description: 'keygate admin: list the API keys of an application',
  },
  deleteKey: {
    name: 'delete-key',
    entry: 'functions/delete-key/index.ts',
    description: 'keygate admin: delete an API key',
  },
} as const satisfies Record<string, FunctionDefinition>;

export type FunctionKey = keyof typeof FUNCTIONS;

export const ADMIN_FUNCTIONS = ['createKey', 'listKeys', 'deleteKey'] as const satisfies readonly FunctionKey[];

export const REPO_ROOT = path.resolve(__dirname, '..');

export function entryPath(fn: FunctionDefinition): string {
  return path.join(REPO_ROOT, fn.entry);
}

/** Lambda runtime the bundles target; esbuild's `target` is derived from it. */
export const NODE_RUNTIME_MAJOR = 24;

/**
 * esbuild options shared by the CDK `NodejsFunction`s and the local stack's
 * own esbuild build, so the code that runs locally is the code that deploys.
 *
 * ESM + `mainFields: ['module', 'main']` lets esbuild take the SDK's ES module
 * builds and drop what is unused; measured here, that halves module init
 * compared with leaving the SDK external (CDK's default). The banner gives the
 * CommonJS parts of the dependency tree a `require` inside an ES module.
 */
export const BUNDLING = {
  format: 'esm',
  platform: 'node',
  target: `node${NODE_RUNTIME_MAJOR}`,
  minify: true,
  sourcemap: true,
  // Maps carry file and line positions only: embedding the sources would triple each upload for no gain in a stack trace.
  sourcesContent: false,
  mainFields: ['module', 'main'],
  externalModules: [] as string[],
  banner: "import { createRequire as __keygateCreateRequire } from 'node:module';const require = __keygateCreateRequire(import.meta.url);",
  outExtension: '.mjs',
} as const;
