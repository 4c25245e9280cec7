import * as z from 'zod/mini';
import { ValidationError } from './errors';
import { SEAL_ATTRIBUTE, type Sealer } from './seal';
import type { TimeBudget } from './session-admin';
import { pagingFields, parseInput } from './validation';
import type { RecordSealingStore } from '../stores/record-sealing';
import { SEALED_FIELDS, type SealedKind } from '../../lib/shared/seals';

/**
 * The one-off migration to sealed records: seals every key hash item, session
 * item and app plan (registry item with a plan) that has no seal, as it is now. Run once, right after
 * deploying a version that seals (with `acceptUnsealedRecords` on during the
 * window); unsealed items found later were never sealed or lost their seal
 * (a table writer), so the README says to check before running it again.
 * An item with a wrong seal is never resealed: it is counted and left alone.
 */
export interface SealRecordsDeps {
  readonly sealer: Sealer;
  readonly store: RecordSealingStore;
}

/** Per kind of item. */
export interface SealCounts {
  /** Sealed by this call. */
  sealed: number;
  /** Already carrying a seal that verifies. */
  alreadySealed: number;
  /** Carrying a seal that does not verify: changed without the pepper. Left alone; the authorizers (keys, sessions) or the admin writers (plans) refuse them. */
  wrongSeal: number;
  /** Not sealed: their sealed fields are not what keygate writes (e.g. an appUid that is not a string), or they changed during the call. */
  skipped: number;
}

export interface SealRecordsOutput {
  readonly keys: SealCounts;
  readonly sessions: SealCounts;
  /** App registry items with a plan. */
  readonly apps: SealCounts;
  /** There is more: call again with it. */
  readonly nextToken?: string;
}

/** Items read per page (a Scan's, or the apps partition's Query), and at most per call unless `limit` says otherwise. */
export const SEAL_PAGE_SIZE = 100;
export const DEFAULT_SEAL_LIMIT = 1000;
export const MAX_SEAL_LIMIT = 10_000;
/** Work stops with this much of the invocation left, and the output carries a nextToken. */
const TIME_RESERVE_MS = 5000;

export const sealRecordsInput = z.strictObject({
  limit: z.optional(
    z
      .int({ error: 'limit must be a whole number' })
      .check(z.gte(1, `limit must be between 1 and ${MAX_SEAL_LIMIT}`), z.lte(MAX_SEAL_LIMIT, `limit must be between 1 and ${MAX_SEAL_LIMIT}`)),
  ),
  nextToken: pagingFields.nextToken,
});

/** Where a call resumes: the kind of item, and the Scan's start key within its table (none: the table's start). */
interface Position {
  readonly kind: SealedKind;
  readonly start?: { readonly pk: string; readonly sk: string };
}

const KINDS: readonly SealedKind[] = ['key', 'session', 'app'];

function encodePosition({ kind, start }: Position): string {
  return Buffer.from(JSON.stringify(start ? { kind, pk: start.pk, sk: start.sk } : { kind })).toString('base64url');
}

function decodePosition(token: string): Position {
  try {
    const { kind, pk, sk, ...rest } = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (KINDS.includes(kind as SealedKind) && Object.keys(rest).length === 0) {
      if (pk === undefined && sk === undefined) return { kind: kind as SealedKind };
      if (typeof pk === 'string' && typeof sk === 'string') return { kind: kind as SealedKind, start: { pk, sk } };
    }
  } catch {
    // fall through to the validation error
  }
  throw new ValidationError('nextToken', 'nextToken is not a token returned by seal-records');
}

/** Sealed fields an item of each kind may lack: the rest it always has. An app's plan is all three fields or none (and none is not read). */
const OPTIONAL_FIELDS: Readonly<Record<SealedKind, ReadonlySet<string>>> = {
  key: new Set(['enabled', 'expiresAt', 'gatewayKey']),
  session: new Set(['expiresAt', 'createdByKeyId', 'gatewayKey']),
  app: new Set(),
};

/** Whether the sealed fields are what keygate writes: ids, an expiry, a plan and a gateway key as strings, enabled as a boolean. */
function sealable(kind: SealedKind, item: Readonly<Record<string, unknown>>): boolean {
  return SEALED_FIELDS[kind].every((field) => {
    const value = item[field];
    if (value === undefined) return OPTIONAL_FIELDS[kind].has(field);
    return field === 'enabled' ? typeof value === 'boolean' : typeof value === 'string';
  });
}

const noCounts = (): SealCounts => ({ sealed: 0, alreadySealed: 0, wrongSeal: 0, skipped: 0 });

/** Payload `{ limit?, nextToken? }` → counts per kind, and a nextToken while there is more. */
export async function sealRecords(deps: SealRecordsDeps, input: unknown, budget: TimeBudget): Promise<SealRecordsOutput> {
  const { limit, nextToken } = parseInput(sealRecordsInput, input, 'seal-records input');
  const counts: Record<SealedKind, SealCounts> = { key: noCounts(), session: noCounts(), app: noCounts() };
  let position: Position | undefined = nextToken === undefined ? { kind: 'key' } : decodePosition(nextToken);
  let left = limit ?? DEFAULT_SEAL_LIMIT;
  while (position && left > 0 && budget.remainingMs() > TIME_RESERVE_MS) {
    const { kind, start } = position;
    if (!deps.store.has(kind)) {
      position = nextKind(kind);
      continue;
    }
    const size = Math.min(SEAL_PAGE_SIZE, left);
    const page = await deps.store.page(kind, size, start);
    left -= size;
    for (const found of page.items) {
      const record = { kind, hash: found.hash, item: found.item };
      const check = await deps.sealer.check(record, found.item[SEAL_ATTRIBUTE]);
      if (check === 'sealed') counts[kind].alreadySealed += 1;
      else if (check === 'wrong') counts[kind].wrongSeal += 1;
      else if (sealable(kind, found.item) && (await deps.store.seal(kind, found, await deps.sealer.seal(record)))) counts[kind].sealed += 1;
      else counts[kind].skipped += 1;
    }
    position = page.next ? { kind, start: page.next } : nextKind(kind);
  }
  const output = { keys: counts.key, sessions: counts.session, apps: counts.app };
  return position ? { ...output, nextToken: encodePosition(position) } : output;
}

function nextKind(kind: SealedKind): Position | undefined {
  const next = KINDS[KINDS.indexOf(kind) + 1];
  return next === undefined ? undefined : { kind: next };
}
