import * as z from 'zod/mini';
import type { Hasher } from './hashing';
import { ID_CHARS, randomId } from './ids';
import type { Session, SessionStore } from '../stores/session-store';
import type { CredentialFormat } from './credential-format';
import { userKey, type UserIdentity, type UserStore } from '../stores/user-store';
import { exactlyOneOf, externalIdSchema, noCredential, parseInput, userEmailSchema } from './validation';

/** Body of `POST .../sdkusers/auth`: exactly one of externalId or userEmail, optional name and accountUids. */
export const sdkUsersAuthBody = z
  .strictObject({
    externalId: z.optional(externalIdSchema),
    userEmail: z.optional(userEmailSchema),
    name: z.optional(
      z
        .string({ error: 'name must be a string' })
        .check(z.trim(), z.minLength(1, 'name must not be empty'), z.maxLength(100, 'name must be at most 100 characters'), noCredential('name')),
    ),
    accountUids: z.optional(
      z
        .array(
          z
            .string({ error: 'accountUids must contain only strings' })
            .check(
              z.minLength(1, 'accountUids must not contain empty ids'),
              z.maxLength(128, 'accountUids entries must be at most 128 characters'),
              z.regex(ID_CHARS, 'accountUids entries may contain only letters, digits, _ and -'),
              noCredential('accountUids entries'),
            ),
          { error: 'accountUids must be an array of account ids' },
        )
        .check(z.maxLength(10, 'accountUids must have at most 10 entries')),
    ),
  })
  .check(exactlyOneOf(['externalId', 'userEmail']));

export type SdkUsersAuthBody = z.output<typeof sdkUsersAuthBody>;

export interface SessionIssuerDeps {
  readonly sessionFormat: CredentialFormat;
  readonly hash: Hasher;
  readonly users: Pick<UserStore, 'findOrCreate'>;
  readonly sessions: Pick<SessionStore, 'create'>;
  readonly lifetimeSeconds: number;
}

/** Who is asking, as the API-key authorizer established it: never taken from the body. */
export interface KeyCaller {
  readonly appUid: string;
  readonly keyId: string;
  /** The app's gateway API key, as API Gateway passes it (`requestContext.identity.apiKey`) when plans are on. */
  readonly gatewayKey?: string;
}

export interface IssuedSession {
  /** The plaintext token: returned once, stored only as its hash. */
  readonly authToken: string;
  readonly expiresAt: string;
}

/** Finds or creates the user named in `body`, then issues a session token for it. */
export async function issueSession(deps: SessionIssuerDeps, caller: KeyCaller, body: unknown, now: Date): Promise<IssuedSession & { sessionId: string; userId: string }> {
  const { externalId, userEmail, name, accountUids } = parseInput(sdkUsersAuthBody, body, 'request body');
  const identity: UserIdentity = externalId !== undefined ? { externalId } : { userEmail: userEmail! };
  const user = await deps.users.findOrCreate(caller.appUid, identity, { name, accountUids }, now);

  const authToken = deps.sessionFormat.generate();
  const expires = new Date(now.getTime() + deps.lifetimeSeconds * 1000);
  const session: Session = {
    sessionId: randomId('ses'),
    appUid: caller.appUid,
    userId: user.userId,
    userKey: userKey(identity),
    createdAt: now.toISOString(),
    expiresAt: expires.toISOString(),
    expiresAtEpoch: Math.ceil(expires.getTime() / 1000),
    createdByKeyId: caller.keyId,
    ...(caller.gatewayKey !== undefined && { gatewayKey: caller.gatewayKey }),
  };
  await deps.sessions.create(session, await deps.hash(authToken));
  return { authToken, expiresAt: session.expiresAt, sessionId: session.sessionId, userId: user.userId };
}
