import * as z from 'zod/mini';
import { activityEvent } from './activity';
import { UserNotFound } from './errors';
import type { ActivityStore } from '../stores/activity-store';
import type { SessionSelector, SessionStore } from '../stores/session-store';
import type { User, UserStore } from '../stores/user-store';
import {
  appUidSchema,
  createdByKeyIdSchema,
  exactlyOneOf,
  externalIdSchema,
  parseInput,
  requestedBySchema,
  sessionIdSchema,
  userEmailSchema,
  userIdSchema,
} from './validation';

/**
 * Ending sessions and erasing users, on purpose. Never a side effect of
 * deleting, disabling or rolling a key: those do not touch sessions.
 */
export interface SessionAdminDeps {
  readonly sessions: Pick<SessionStore, 'find' | 'end'>;
  readonly users: Pick<UserStore, 'get' | 'getById' | 'markDeleting' | 'remove'>;
  /** The app's activity log in the keys table. */
  readonly activity: Pick<ActivityStore, 'record'>;
  readonly now: () => Date;
}

/** How long the current invocation may still run; work stops with this much left and the output says `incomplete`. */
export interface TimeBudget {
  remainingMs(): number;
}

/** Kept in hand for the last page's deletes and the answer. */
export const TIME_RESERVE_MS = 3000;
/** Sessions read and ended per round. */
export const SESSIONS_PER_ROUND = 100;

const selectors = ['userId', 'externalId', 'createdByKeyId', 'sessionId'] as const;
export const revokeSessionsInput = z
  .strictObject({
    appUid: appUidSchema,
    userId: z.optional(userIdSchema),
    externalId: z.optional(externalIdSchema),
    createdByKeyId: z.optional(createdByKeyIdSchema),
    sessionId: z.optional(sessionIdSchema),
    requestedBy: requestedBySchema,
  })
  .check(exactlyOneOf(selectors));

export const deleteUserInput = z
  .strictObject({
    appUid: appUidSchema,
    userId: z.optional(userIdSchema),
    externalId: z.optional(externalIdSchema),
    userEmail: z.optional(userEmailSchema),
    requestedBy: requestedBySchema,
  })
  .check(exactlyOneOf(['userId', 'externalId', 'userEmail']));

/** `incomplete` when time ran out first: call again with the same input to end the rest. */
export interface RevokedSessions {
  readonly revoked: number;
  readonly incomplete?: true;
}

export interface DeletedUser {
  readonly userId: string;
  /** False only with `incomplete`: the user is marked and gets no new session, but is not erased yet. */
  readonly deleted: boolean;
  readonly sessionsRevoked: number;
  readonly incomplete?: true;
}

export async function revokeSessions(deps: SessionAdminDeps, input: unknown, budget: TimeBudget): Promise<RevokedSessions> {
  const { appUid, userId, externalId, createdByKeyId, sessionId, requestedBy } = parseInput(revokeSessionsInput, input, 'revoke-sessions input');
  let selector: SessionSelector;
  if (externalId !== undefined) {
    const user = await deps.users.get(appUid, externalId);
    if (!user) throw new UserNotFound('externalId', appUid);
    selector = { userId: user.userId };
  } else if (userId !== undefined) selector = { userId };
  else if (createdByKeyId !== undefined) selector = { createdByKeyId };
  else selector = { sessionId: sessionId! };
  const ended = await endSessions(deps, appUid, selector, budget);
  // The selector as keygate ids (an externalId is the customer's data: its userId stands in for it); a key's
  // revocation shows among that key's events.
  const event = activityEvent({
    now: deps.now(),
    action: 'sessions-revoked',
    ...(createdByKeyId !== undefined ? { keyId: createdByKeyId } : {}),
    requestedBy,
    details: { ...selector, revoked: ended.revoked, ...(ended.incomplete ? { incomplete: true } : {}) },
  });
  await deps.activity.record(appUid, event, 'revoke-sessions', `${ended.revoked} sessions were ended but the event was not recorded; call again to record it`);
  return ended;
}

/**
 * Erases a user: marks it (no new session from then on), ends every session
 * of it, then deletes its items. A call that runs out of time leaves the user
 * marked; calling again with the same input finishes the job.
 */
export async function deleteUser(deps: SessionAdminDeps, input: unknown, budget: TimeBudget): Promise<DeletedUser> {
  const { appUid, userId, externalId, userEmail, requestedBy } = parseInput(deleteUserInput, input, 'delete-user input');
  let user: User | undefined;
  if (userId !== undefined) user = await deps.users.getById(appUid, userId);
  else if (externalId !== undefined) user = await deps.users.get(appUid, externalId);
  else user = await deps.users.get(appUid, userEmail!.toLowerCase());
  if (!user) throw new UserNotFound(userId !== undefined ? 'userId' : externalId !== undefined ? 'externalId' : 'userEmail', appUid);

  // Marked first: any session that commits does so before this, so the consistent Query below sees it.
  await deps.users.markDeleting(appUid, user, deps.now());
  const ended = await endSessions(deps, appUid, { userId: user.userId }, budget);
  if (ended.incomplete) return { userId: user.userId, deleted: false, sessionsRevoked: ended.revoked, incomplete: true };
  await deps.users.remove(appUid, user);
  // Names no one: after an erasure nothing keygate keeps leads back to the user, not even its userId.
  const event = activityEvent({ now: deps.now(), action: 'user-deleted', requestedBy, details: { sessionsRevoked: ended.revoked } });
  await deps.activity.record(appUid, event, 'delete-user', `user ${user.userId} was erased but the event was not recorded`);
  return { userId: user.userId, deleted: true, sessionsRevoked: ended.revoked };
}

/**
 * Ends every session the selector finds, a round at a time: each round reads
 * the index items still there (strongly consistent) and ends them, which
 * removes them, so the next round's read starts on what is left.
 */
async function endSessions(deps: SessionAdminDeps, appUid: string, selector: SessionSelector, budget: TimeBudget): Promise<RevokedSessions> {
  let revoked = 0;
  for (;;) {
    if (budget.remainingMs() < TIME_RESERVE_MS) return { revoked, incomplete: true };
    const refs = await deps.sessions.find(appUid, selector, SESSIONS_PER_ROUND);
    if (refs.length === 0) return { revoked };
    revoked += await deps.sessions.end(appUid, refs, deps.now());
  }
}
