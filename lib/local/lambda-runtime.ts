import { randomUUID } from 'node:crypto';

/**
 * Just enough of the Lambda Node.js runtime to call a handler export: a
 * context object, callback-style handlers, a timeout, and the error shape the
 * runtime reports (`errorType` = the error's name).
 */
export type LambdaHandler = (event: unknown, context: LambdaContext, callback?: (error?: unknown, result?: unknown) => void) => unknown;

export interface LambdaContext {
  readonly functionName: string;
  readonly functionVersion: string;
  readonly invokedFunctionArn: string;
  readonly memoryLimitInMB: string;
  readonly awsRequestId: string;
  readonly logGroupName: string;
  readonly logStreamName: string;
  callbackWaitsForEmptyEventLoop: boolean;
  getRemainingTimeInMillis(): number;
}

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT_ID = '123456789012';

export type InvocationResult =
  | { readonly ok: true; readonly value: unknown; readonly requestId: string }
  | { readonly ok: false; readonly error: LambdaError; readonly requestId: string };

/** What Lambda reports for an unhandled error. */
export interface LambdaError {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace?: readonly string[];
}

export function lambdaError(error: unknown): LambdaError {
  if (error instanceof Error) {
    return { errorType: error.name || 'Error', errorMessage: error.message, trace: error.stack?.split('\n') };
  }
  // Handlers that throw a non-Error: the Node.js runtime reports it as a string.
  return { errorType: 'string', errorMessage: typeof error === 'string' ? error : JSON.stringify(error) ?? String(error) };
}

export class InvocationTimeout extends Error {
  constructor(timeoutMs: number) {
    super(`Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`);
    this.name = 'Sandbox.Timedout';
  }
}

export async function invokeHandler(functionName: string, handler: LambdaHandler, event: unknown, timeoutMs: number): Promise<InvocationResult> {
  const requestId = randomUUID();
  const deadline = Date.now() + timeoutMs;
  const context: LambdaContext = {
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    const run = new Promise<unknown>((resolve, reject) => {
      const callback = (error?: unknown, result?: unknown) => (error ? reject(error) : resolve(result));
      const returned = handler.length >= 3 ? handler(event, context, callback) : handler(event, context);
      if (handler.length < 3 || isPromise(returned)) Promise.resolve(returned).then(resolve, reject);
    });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new InvocationTimeout(timeoutMs)), timeoutMs);
    });
    const value = await Promise.race([run, timeout]);
    // Lambda serializes the result as JSON: what cannot be, the caller never sees.
    return { ok: true, value: value === undefined ? null : JSON.parse(JSON.stringify(value) ?? 'null'), requestId };
  } catch (error) {
    return { ok: false, error: lambdaError(error), requestId };
  } finally {
    clearTimeout(timer);
  }
}

function isPromise(value: unknown): value is Promise<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}
