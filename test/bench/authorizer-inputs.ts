import { randomBytes } from 'node:crypto';
import type { Context } from 'aws-lambda';

/**
 * What both bench children hand the API-key authorizer bundle: the Lambda
 * context, API Gateway usage-plan keys as a legacy key pattern, and values
 * the format checks must refuse without any I/O.
 */

/** A Lambda context as the Node.js runtime passes one (the runtime's own cost of making it is not keygate's). */
export const LAMBDA_CONTEXT = {
  awsRequestId: '8f5b6e0a-2c1d-4f3e-9a7b-1c2d3e4f5a6b',
  functionName: 'api-key-authorizer',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:api-key-authorizer',
  memoryLimitInMB: '1024',
  logGroupName: '/aws/lambda/api-key-authorizer',
  logStreamName: 'bench',
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 10_000,
} as unknown as Context;

/** API Gateway usage-plan keys: what a team migrating to keygate would configure. */
export const LEGACY_KEYS = { pattern: '[A-Za-z0-9]{40}', minLength: 40, maxLength: 40 };

export function legacyKey(): string {
  let out = '';
  while (out.length < 40) out += randomBytes(40).toString('base64').replace(/[^A-Za-z0-9]/g, '');
  return out.slice(0, 40);
}

/** Values shaped like keys that the format check must refuse without any I/O, made from a well-formed key. */
export function rejectedKeys(valid: string): string[] {
  const flip = (value: string, index: number) => {
    const chars = value.split('');
    chars[index] = chars[index] === 'A' ? 'B' : 'A';
    return chars.join('');
  };
  const secretStart = 'kg_'.length;
  return [
    // Bad checksum: a one-character typo in the secret, and in the checksum itself.
    flip(valid, secretStart + 5),
    flip(valid, secretStart + 30),
    flip(valid, valid.length - 1),
    // Malformed: wrong prefix, wrong length, a character outside base62, empty, not a key at all.
    `xx_${valid.slice(3)}`,
    valid.slice(0, -1),
    `${valid}0`,
    `${valid.slice(0, 10)}-${valid.slice(11)}`,
    '',
    'Bearer something',
  ];
}

/** Values of neither format: no keygate key, and outside the legacy pattern or its length bounds. */
export function neitherFormat(valid: string, legacy: string): string[] {
  return [...rejectedKeys(valid), legacy.slice(0, -1), `${legacy}A`, `${legacy.slice(0, 20)}-${legacy.slice(21)}`, `${legacy.slice(0, 39)}!`];
}
