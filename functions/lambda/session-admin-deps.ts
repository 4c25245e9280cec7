import { ActivityStore } from '../stores/activity-store';
import { documentClient } from '../stores/document-client';
import { SessionStore } from '../stores/session-store';
import { UserStore } from '../stores/user-store';
import type { SessionAdminDeps } from '../domain/session-admin';
import type { Services } from './services';

/** What revoke-sessions and delete-user work with: the session and user stores and the activity log, built once per container. */
export function sessionAdminDeps(services: Services): SessionAdminDeps {
  const db = documentClient(services.dynamodb);
  return {
    sessions: new SessionStore(db, services.tables.sessions, services.tables.users),
    users: new UserStore(db, services.tables.users),
    activity: new ActivityStore(db, services.tables.keys),
    now: () => new Date(),
  };
}
