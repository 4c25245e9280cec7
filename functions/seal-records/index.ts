import { ENV } from '../../lib/shared/environment';
import { adminHandler } from '../lambda/admin-handler';
import { servicesFromEnvironment } from '../lambda/services';
import { sealRecords } from '../domain/seal-records';
import { RecordSealingStore } from '../stores/record-sealing';

const services = servicesFromEnvironment();
const deps = {
  sealer: services.sealer,
  // Without sessions there is no sessions table, and only key items to seal.
  store: new RecordSealingStore(services.dynamodb, { key: services.tables.keys, session: process.env[ENV.sessionsTable] || undefined, app: services.tables.keys }),
};

/** Payload `{ limit?, nextToken? }` → `{ keys, sessions, apps, nextToken? }`, each `{ sealed, alreadySealed, wrongSeal, skipped }`. */
export const handler = adminHandler('seal-records', (input, budget) => sealRecords(deps, input, budget));
