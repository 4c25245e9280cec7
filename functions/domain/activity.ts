import { randomId } from './ids';

/**
 * The activity log: one event per change, written in the same DynamoDB
 * transaction as the change (see activityEventPut in stores/activity-store.ts),
 * so no change exists without its event and no event without its change.
 */
export type ActivityAction =
  | 'created'
  | 'imported'
  | 'rolled'
  | 'updated'
  | 'disabled'
  | 'enabled'
  | 'deleted'
  | 'revoked-by-report'
  | 'sessions-revoked'
  | 'user-deleted'
  | 'plan-changed';

/** Events are kept this long, then DynamoDB TTL removes them. */
export const ACTIVITY_RETENTION_DAYS = 400;

export interface ActivityEvent {
  readonly eventId: string;
  /** ISO 8601 time of the change. */
  readonly at: string;
  readonly action: ActivityAction;
  /** The key the change is about; absent for events about users or sessions. */
  readonly keyId?: string;
  /** Who the caller said it is (self-declared: CloudTrail has the authoritative record). */
  readonly requestedBy?: string;
  /** What changed, e.g. `{ name: { from, to } }`; never key material. */
  readonly details?: Readonly<Record<string, unknown>>;
}

export function activityEvent(fields: Omit<ActivityEvent, 'eventId' | 'at'> & { readonly now: Date }): ActivityEvent {
  const { now, keyId, requestedBy, details, action } = fields;
  return {
    eventId: randomId('evt'),
    at: now.toISOString(),
    action,
    ...(keyId === undefined ? {} : { keyId }),
    ...(requestedBy === undefined ? {} : { requestedBy }),
    ...(details === undefined ? {} : { details }),
  };
}

/** Epoch seconds at which DynamoDB TTL may delete an event written at `at`. */
export function activityExpiryEpoch(at: string): number {
  return Math.floor(Date.parse(at) / 1000) + ACTIVITY_RETENTION_DAYS * 24 * 60 * 60;
}
