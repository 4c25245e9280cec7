import type { HttpResponse } from './http';

/** What the SDK puts on every error it throws; keygate's logs and classification read `name` and these. */
export interface ResponseMetadata {
  httpStatusCode?: number;
  requestId?: string;
  attempts?: number;
  totalRetryDelay?: number;
}

export type AwsServiceError = Error & {
  readonly $fault: 'client' | 'server';
  $metadata: ResponseMetadata;
  readonly [field: string]: unknown;
};

const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

/** The SDK's sanitizeErrorCode: `aws.protocol#Name:extra` → `Name`. */
function errorCode(raw: unknown): string | undefined {
  if (typeof raw !== 'string' && typeof raw !== 'number') return undefined;
  let code = String(raw).split(',')[0]!.split(':')[0]!;
  if (code.includes('#')) code = code.split('#')[1]!;
  return code || undefined;
}

/**
 * The error an AWS JSON-protocol service answered, shaped as the SDK throws
 * it: `name` is the `__type` suffix (ProvisionedThroughputExceededException,
 * ResourceNotFoundException, AccessDeniedException, ...), `$metadata` carries
 * the HTTP status, and the body's other fields (CancellationReasons) are kept.
 */
export function serviceError(response: HttpResponse): AwsServiceError {
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(response.body);
    if (parsed && typeof parsed === 'object') body = parsed as Record<string, unknown>;
  } catch {
    // Not JSON (a proxy's HTML page): the status alone names it.
  }
  const { __type, code, Code, message, Message, ...fields } = body;
  const name = errorCode(first(response.headers['x-amzn-errortype'])) ?? errorCode(code ?? Code) ?? errorCode(__type) ?? String(response.statusCode);
  const text = typeof message === 'string' ? message : typeof Message === 'string' ? Message : name;
  return Object.assign(new Error(text), fields, {
    name,
    $fault: response.statusCode >= 500 ? ('server' as const) : ('client' as const),
    $metadata: { httpStatusCode: response.statusCode, requestId: first(response.headers['x-amzn-requestid']) },
  });
}
