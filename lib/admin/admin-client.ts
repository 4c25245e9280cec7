import { userInfo } from 'node:os';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { PACKAGE_ROOT } from '../construct/function-bundles';
import { homePaths, isCheckout, keygateHome, KEYGATE_HOME_ENV, readLambdaApiSecret, readLocalStackInfo, type LocalStackInfo } from '../local/home';
import { localLambdaApiCredentials } from '../local/lambda-api';
import { ADMIN_FUNCTIONS, adminFunctionOutput, FUNCTIONS, isSessionFunction, type AdminFunctionId } from '../shared/functions';

/**
 * How the admin tools (the CLI and the console) reach the admin Lambda
 * functions: through the Lambda Invoke API, either the local stack's emulation
 * of it (found through `<KEYGATE_HOME>/local.json`) or the deployed functions
 * named by a stack's outputs (`--stack`), with the operator's own AWS
 * credentials.
 */

export type AdminFunction = AdminFunctionId;

export interface AdminTargetOptions {
  /** A deployed keygate stack (CloudFormation stack name); the local stack when absent. */
  readonly stack?: string;
  readonly region?: string;
  readonly profile?: string;
}

/** The admin functions could not be called; the message is one line fit to show a person. */
export class AdminClientError extends Error {
  override readonly name: string = 'AdminClientError';
}

/** The admin function ran and failed (`X-Amz-Function-Error`); `errorType` is e.g. ValidationError or KeyNotFound. */
export class AdminFunctionError extends AdminClientError {
  override readonly name = 'AdminFunctionError';

  constructor(
    readonly errorType: string,
    message: string,
  ) {
    super(message);
  }
}

export interface AdminClient {
  /** Where calls go, for people: `the local stack` or `stack <name>`. */
  readonly target: string;
  /** Invokes one admin function; its output, or an AdminClientError / AdminFunctionError. */
  invoke<T = unknown>(fn: AdminFunction, input: unknown): Promise<T>;
  /** The admin functions the target has (a stack deployed before a function existed lacks it). */
  available(): Promise<AdminFunction[]>;
  /** Who is calling, for `requestedBy`: self-declared, the admin functions cannot check it. */
  requester(): Promise<string>;
  destroy(): void;
}

/** What to do when no local stack is found; every message saying so ends with it. */
export const POINT_AT_A_STACK = `start one with \`npm start\` in the keygate checkout, set ${KEYGATE_HOME_ENV} to the data folder of a running one, or pass --stack <name> for a deployed stack`;

interface Target {
  readonly client: LambdaClient;
  /** Function names; a stack or local stack older than a function (or a stack with sessions off) lacks it. */
  readonly functions: Partial<Record<AdminFunction, string>>;
  /** Why a function is missing from `functions`. */
  readonly missing: (fn: AdminFunction) => string;
  /** Said when the target does not answer. */
  readonly unreachable: string;
  readonly local: boolean;
}

const availableIn = (target: Target) => ADMIN_FUNCTIONS.filter((id) => target.functions[id] !== undefined);

/**
 * A client for the admin functions. A deployed stack's outputs are read once,
 * here; the local stack's `local.json` is read on every call, so a console
 * left open follows `npm start` across restarts (new ports).
 */
export async function connectAdmin(
  options: AdminTargetOptions,
  env: Readonly<Record<string, string | undefined>>,
  /** The keygate package the tool runs from: a checkout keeps its local stack's data in `.keygate/`. */
  packageRoot: string = PACKAGE_ROOT,
): Promise<AdminClient> {
  if (options.stack !== undefined) {
    const target = await deployedTarget(options.stack, options);
    let caller: Promise<string> | undefined;
    return {
      target: `stack ${options.stack}`,
      invoke: (fn, input) => invoke(target, fn, input),
      available: async () => availableIn(target),
      requester: () => (caller ??= callerArn(options)),
      destroy: () => target.client.destroy(),
    };
  }
  if (!env[KEYGATE_HOME_ENV] && !isCheckout(packageRoot)) {
    throw new AdminClientError(
      `no local keygate stack: this keygate is an installed package (${packageRoot}), not a checkout, and \`npm start\` runs only in a checkout; set ${KEYGATE_HOME_ENV} to the data folder (.keygate) of a running one, or pass --stack <name> for a deployed stack`,
    );
  }
  const home = keygateHome(env, packageRoot);
  let current: { endpoint: string; secret: string; target: Target } | undefined;
  const localTarget = (): Target => {
    const info = readLocalStackInfo(home);
    if (!info) throw new AdminClientError(`no local keygate stack is running from ${home} (${KEYGATE_HOME_ENV}): ${POINT_AT_A_STACK}`);
    const secret = lambdaApiSecret(home);
    if (current?.endpoint !== info.lambdaEndpoint || current.secret !== secret) {
      current?.target.client.destroy();
      current = { endpoint: info.lambdaEndpoint, secret, target: localStackTarget(info, home, secret) };
    }
    return current.target;
  };
  return {
    target: 'the local stack',
    invoke: async (fn, input) => invoke(localTarget(), fn, input),
    available: async () => availableIn(localTarget()),
    requester: async () => `local:${userInfo().username}`,
    destroy: () => current?.target.client.destroy(),
  };
}

/** The running local stack's per-start secret, which admits this machine's own programs to its Lambda API. */
function lambdaApiSecret(home: string): string {
  let secret: string | undefined;
  try {
    secret = readLambdaApiSecret(home);
  } catch (error) {
    throw new AdminClientError(`could not read the local stack's Lambda API secret (${homePaths(home).lambdaApiSecret}): ${firstLine(error)}`);
  }
  if (!secret) throw new AdminClientError(`the local stack has no Lambda API secret (${homePaths(home).lambdaApiSecret}); restart it with \`npm start\``);
  return secret;
}

function localStackTarget(info: LocalStackInfo, home: string, secret: string): Target {
  return {
    client: new LambdaClient({
      endpoint: info.lambdaEndpoint,
      region: info.region,
      credentials: localLambdaApiCredentials(secret),
      maxAttempts: 1,
    }),
    functions: info.functions,
    missing: (fn) => `the local stack running from ${home} has no ${FUNCTIONS[fn].name} function: it was started by an older keygate; restart \`npm start\``,
    unreachable: `no local keygate stack answers at ${info.lambdaEndpoint} (recorded in ${home}, ${KEYGATE_HOME_ENV}); it was stopped or killed: ${POINT_AT_A_STACK}`,
    local: true,
  };
}

const awsConfig = (options: AdminTargetOptions) => ({ ...(options.region ? { region: options.region } : {}), ...(options.profile ? { profile: options.profile } : {}) });

async function deployedTarget(stack: string, options: AdminTargetOptions): Promise<Target> {
  const config = awsConfig(options);
  const { CloudFormationClient, DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
  const cloudFormation = new CloudFormationClient(config);
  let outputs: Record<string, string>;
  try {
    const { Stacks } = await cloudFormation.send(new DescribeStacksCommand({ StackName: stack }));
    outputs = Object.fromEntries((Stacks?.[0]?.Outputs ?? []).map((output) => [output.OutputKey ?? '', output.OutputValue ?? '']));
  } catch (error) {
    throw new AdminClientError(`could not read the outputs of stack ${stack}: ${firstLine(error)}`);
  } finally {
    cloudFormation.destroy();
  }
  const functions: Partial<Record<AdminFunction, string>> = {};
  for (const id of ADMIN_FUNCTIONS) if (outputs[adminFunctionOutput(id)]) functions[id] = outputs[adminFunctionOutput(id)];
  return {
    // One attempt: a retried create-key after a timeout would make a second live key whose plaintext nobody sees.
    client: new LambdaClient({ ...config, maxAttempts: 1 }),
    functions,
    // A stack with sessions off has no session functions, as an older stack lacks newer ones.
    missing: (fn) => `stack ${stack} has no output ${adminFunctionOutput(fn)}; is it a keygate stack${isSessionFunction(fn) ? ' with sessions on' : ''}, updated to this version?`,
    unreachable: `could not reach AWS Lambda for stack ${stack}`,
    local: false,
  };
}

/**
 * Whether an app exists: registered (get-app), or from before the registry and
 * with keys. A key created for an unknown app starts that app, so the CLI and
 * the console ask first: a typo in the app id must not quietly start a second
 * app. A target without get-app (older) is asked for keys only.
 */
export async function isKnownApp(admin: AdminClient, appUid: string): Promise<boolean> {
  if ((await admin.available()).includes('getApp')) {
    try {
      await admin.invoke('getApp', { appUid });
      return true;
    } catch (error) {
      if (!(error instanceof AdminFunctionError && error.errorType === 'AppNotFound')) throw error;
    }
  }
  const { keys } = await admin.invoke<{ keys: unknown[] }>('listKeys', { appUid, limit: 1 });
  return keys.length > 0;
}

/** The ARN of the AWS principal whose credentials are used (STS GetCallerIdentity). */
async function callerArn(options: AdminTargetOptions): Promise<string> {
  const { STSClient, GetCallerIdentityCommand } = await import('@aws-sdk/client-sts');
  const sts = new STSClient(awsConfig(options));
  try {
    const { Arn } = await sts.send(new GetCallerIdentityCommand({}));
    if (!Arn) throw new Error('GetCallerIdentity returned no ARN');
    return Arn;
  } catch (error) {
    throw new AdminClientError(`could not tell who is calling (STS GetCallerIdentity): ${firstLine(error)}`);
  } finally {
    sts.destroy();
  }
}

async function invoke<T>(target: Target, fn: AdminFunction, input: unknown): Promise<T> {
  const functionName = target.functions[fn];
  if (!functionName) throw new AdminClientError(target.missing(fn));
  let response;
  try {
    response = await target.client.send(new InvokeCommand({ FunctionName: functionName, Payload: Buffer.from(JSON.stringify(input)) }));
  } catch (error) {
    const code = (error as { code?: string }).code ?? (error as { cause?: { code?: string } }).cause?.code;
    if (target.local && (code === 'ECONNREFUSED' || code === 'ECONNRESET' || /ECONNREFUSED/.test(String(error)))) throw new AdminClientError(target.unreachable);
    if ((error as Error).name === 'ResourceNotFoundException') throw new AdminClientError(`function ${functionName} not found: ${firstLine(error)}`);
    if (!target.local && /ENOTFOUND|ECONNREFUSED|ETIMEDOUT/.test(String(code ?? error))) throw new AdminClientError(`${target.unreachable}: ${firstLine(error)}`);
    throw new AdminClientError(firstLine(error));
  }
  const text = response.Payload ? Buffer.from(response.Payload).toString('utf8') : 'null';
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    throw new AdminClientError(`${functionName} returned a payload that is not JSON`);
  }
  if (response.FunctionError) {
    const { errorType, errorMessage } = (payload ?? {}) as { errorType?: string; errorMessage?: string };
    // The message only: a runtime error's payload also carries a stack trace, which is for the logs, not for people.
    throw new AdminFunctionError(errorType ?? response.FunctionError, firstLine(errorMessage ?? `${functionName} failed (${response.FunctionError})`));
  }
  return payload as T;
}

/** The first line of an error's message (SDK errors can run to many). */
export function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message || error.name : String(error);
  return message.split('\n')[0]!;
}
