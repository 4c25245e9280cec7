import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { invokeHandler, LOCAL_ACCOUNT_ID, LOCAL_REGION, type LambdaHandler } from './lambda-runtime';

/**
 * The AWS Lambda Invoke API (`POST /2015-03-31/functions/{FunctionName}/invocations`)
 * for the local stack's functions, so `@aws-sdk/client-lambda` (the CLI) and
 * `aws lambda invoke --endpoint-url` talk to the local stack exactly as to AWS.
 * No request signing is checked: listen on loopback only.
 */
export interface LocalLambdaApiOptions {
  /** Handlers by function name, e.g. `create-key`. */
  readonly functions: Readonly<Record<string, LambdaHandler>>;
  /** @default 30000 */
  readonly timeoutMs?: number;
  readonly log?: (line: string) => void;
}

const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

/** `my-fn`, `my-fn:alias`, or a function ARN (optionally qualified) → `my-fn`. */
export function functionNameOf(identifier: string): string {
  const arn = /^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)(?::.+)?$/.exec(identifier);
  if (arn) return arn[1]!;
  return identifier.split(':')[0]!;
}

export function createLocalLambdaApi(options: LocalLambdaApiOptions): Server {
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
    const url = new URL(req.url ?? '/', 'http://local');
    const match = INVOKE_PATH.exec(url.pathname);
    if (req.method !== 'POST' || !match) return serviceError(res, 404, 'UnknownOperationException', `${req.method} ${url.pathname} is not supported by the local Lambda API`);
    const name = functionNameOf(decodeURIComponent(match[1]!));
    const handler = options.functions[name];
    if (!handler) {
      return serviceError(res, 404, 'ResourceNotFoundException', `Function not found: arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:${name}`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_PAYLOAD_BYTES) return serviceError(res, 413, 'RequestTooLargeException', 'Request must be smaller than 6291456 bytes for the InvokeFunction operation');
      chunks.push(chunk as Buffer);
    }
    const raw = Buffer.concat(chunks).toString('utf8');
    let event: unknown;
    try {
      event = raw.trim() === '' ? {} : JSON.parse(raw);
    } catch {
      return serviceError(res, 400, 'InvalidRequestContentException', 'Could not parse request body into json');
    }

    const invocationType = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
    if (invocationType === 'DryRun') return sendJson(res, 204, '');
    const started = Date.now();
    const run = invokeHandler(name, handler, event, timeoutMs).then((result) => {
      log(`invoke ${name} ${result.ok ? 'ok' : `failed: ${result.error.errorType}`} ${Date.now() - started}ms`);
      return result;
    });
    if (invocationType === 'Event') {
      run.catch(() => undefined);
      return sendJson(res, 202, '', { 'x-amzn-RequestId': randomUUID() });
    }
    if (invocationType !== 'RequestResponse') return serviceError(res, 400, 'InvalidParameterValueException', `Unsupported InvocationType ${invocationType}`);
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
