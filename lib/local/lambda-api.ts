import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { invokeHandler, LOCAL_ACCOUNT_ID, LOCAL_REGION, type LambdaHandler } from './lambda-runtime';
import { foreignRequestProblem, readBody, sameSecret } from './loopback';

/**
 * The AWS Lambda Invoke API (`POST /2015-03-31/functions/{FunctionName}/invocations`)
 * for the local stack's functions, so `@aws-sdk/client-lambda` (the CLI) and
 * `aws lambda invoke --endpoint-url` talk to the local stack exactly as to AWS.
 *
 * create-key answers with a live key, so only this machine's own programs
 * may call it: listen on loopback, and refuse a foreign `Host` (DNS
 * rebinding), any `Origin` (a web page) and a caller without the per-start
 * secret. The secret travels as the access key id of the caller's SigV4
 * credentials, which every AWS client can set; signatures are not checked.
 */
export interface LocalLambdaApiOptions {
  /** Handlers by function name, e.g. `create-key`. */
  readonly functions: Readonly<Record<string, LambdaHandler>>;
  /** The access key id callers must sign with (see localLambdaApiCredentials). */
  readonly secret: string;
  /** @default 30000 */
  readonly timeoutMs?: number;
  readonly log?: (line: string) => void;
}

const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

/** SigV4 credentials that carry `secret` to the local Lambda API. */
export function localLambdaApiCredentials(secret: string): { accessKeyId: string; secretAccessKey: string } {
  return { accessKeyId: secret, secretAccessKey: 'local' };
}

/** The access key id of a SigV4 `Authorization` header (`... Credential=<id>/<date>/...`). */
function accessKeyIdOf(authorization: string | undefined): string | undefined {
  return /^AWS4-HMAC-SHA256 Credential=([^/\s,]+)\//.exec(authorization ?? '')?.[1];
}

/** `my-fn`, `my-fn:alias`, or a function ARN (optionally qualified) → `my-fn`. */
export function functionNameOf(identifier: string): string {
  const arn = /^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)(?::.+)?$/.exec(identifier);
  if (arn) return arn[1]!;
  return identifier.split(':')[0]!;
}

export function createLocalLambdaApi(options: LocalLambdaApiOptions): Server {
  if (options.secret.length < 32) throw new Error('the local Lambda API secret must be at least 32 characters');
  // A Map, so `constructor` or `__proto__` is an unknown function, not Object.prototype's.
  const functions = new Map(Object.entries(options.functions));
  const timeoutMs = options.timeoutMs ?? 30_000;
  const log = options.log ?? (() => undefined);

  const sendJson = (res: ServerResponse, statusCode: number, body: string, headers: Record<string, string> = {}) => {
    res.statusCode = statusCode;
    res.setHeader('Content-Type', 'application/json');
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    res.setHeader('Content-Length', Buffer.byteLength(body));
    res.end(body);
  };
  // Service errors as Lambda sends them: the SDK reads the error code from x-amzn-ErrorType.
  const serviceError = (res: ServerResponse, statusCode: number, code: string, message: string) =>
    sendJson(res, statusCode, JSON.stringify({ Type: 'User', Message: message, message }), { 'x-amzn-ErrorType': code, 'x-amzn-RequestId': randomUUID() });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const foreign = foreignRequestProblem(req, { refuseOrigin: true });
    if (foreign) {
      log(`lambda api: refused a request: ${foreign}`);
      return serviceError(res, 403, 'AccessDeniedException', `the local Lambda API takes requests from this machine's programs only: ${foreign}`);
    }
    if (!sameSecret(accessKeyIdOf(req.headers.authorization), options.secret)) {
      log('lambda api: refused a request without the secret');
      return serviceError(res, 403, 'UnrecognizedClientException', "The security token included in the request is invalid: sign with the local stack's secret as access key id (see the lambda-api-secret file in the local stack's data folder)");
    }
    const url = new URL(req.url ?? '/', 'http://local');
    const match = INVOKE_PATH.exec(url.pathname);
    if (req.method !== 'POST' || !match) return serviceError(res, 404, 'UnknownOperationException', `${req.method} ${url.pathname} is not supported by the local Lambda API`);
    const name = functionNameOf(decodeURIComponent(match[1]!));
    const handler = functions.get(name);
    if (!handler) {
      return serviceError(res, 404, 'ResourceNotFoundException', `Function not found: arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:${name}`);
    }
    const payload = await readBody(req, MAX_PAYLOAD_BYTES);
    if (!payload) return serviceError(res, 413, 'RequestTooLargeException', 'Request must be smaller than 6291456 bytes for the InvokeFunction operation');
    const raw = payload.toString('utf8');
    let event: unknown;
    try {
      event = raw.trim() === '' ? {} : JSON.parse(raw);
    } catch {
      return serviceError(res, 400, 'InvalidRequestContentException', 'Could not parse request body into json');
    }

    const invocationType = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
    if (invocationType === 'DryRun') return sendJson(res, 204, '');
    // Refused before anything runs: a create-key run for a refused request would make a key no one sees.
    if (invocationType !== 'RequestResponse' && invocationType !== 'Event') {
      return serviceError(res, 400, 'InvalidParameterValueException', `Unsupported InvocationType ${invocationType}`);
    }
    const started = Date.now();
    const run = invokeHandler(name, handler, event, timeoutMs).then((result) => {
      log(`invoke ${name} ${result.ok ? 'ok' : `failed: ${result.error.errorType}`} ${Date.now() - started}ms`);
      return result;
    });
    if (invocationType === 'Event') {
      run.catch(() => undefined);
      return sendJson(res, 202, '', { 'x-amzn-RequestId': randomUUID() });
    }
    const result = await run;
    const headers = { 'x-amzn-RequestId': result.requestId, 'X-Amz-Executed-Version': '$LATEST' };
    if (result.ok) return sendJson(res, 200, JSON.stringify(result.value), headers);
    sendJson(res, 200, JSON.stringify(result.error), { ...headers, 'X-Amz-Function-Error': 'Unhandled' });
  };

  return createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log(`lambda api error: ${error instanceof Error ? error.message : String(error)}`);
      if (!res.headersSent) serviceError(res, 500, 'ServiceException', 'local Lambda API error');
      else res.destroy();
    });
  });
}
