import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { newLambdaApiSecret } from '../../lib/local/home';
import { createLocalLambdaApi } from '../../lib/local/lambda-api';
import type { LambdaHandler } from '../../lib/local/lambda-runtime';
import { ADMIN_FUNCTIONS, FUNCTIONS } from '../../lib/shared/functions';

/**
 * Admin functions behind the local Lambda Invoke API on a free loopback port,
 * with a `local.json` in `home` that points the CLI at them and the per-start
 * secret it signs with, as `npm start` does.
 */
export async function serveAdminFunctions(
  home: string,
  functions: Record<string, LambdaHandler>,
  /** A secret of its own, not written to `home`: a stack the CLI does not share a secret with. @default a new one, written */
  secret: string = newLambdaApiSecret(home),
): Promise<Server> {
  const server = createLocalLambdaApi({ secret, functions });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  writeFileSync(
    path.join(home, 'local.json'),
    JSON.stringify({
      lambdaEndpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      region: 'us-east-1',
      functions: Object.fromEntries(ADMIN_FUNCTIONS.map((id) => [id, FUNCTIONS[id].name])),
    }),
  );
  return server;
}
