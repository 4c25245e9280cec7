import { randomBytes } from 'node:crypto';
import { ENV } from '../../lib/shared/environment';

/**
 * Runs before each test file: dummy AWS credentials for DynamoDB Local, a
 * per-file table-name stem so files running in parallel never share a table,
 * and a local pepper (the one thing mocked: Secrets Manager has no local server).
 */
process.env.AWS_REGION = 'us-east-1';
// Local Node is 20; the Lambdas run Node 24. The SDK's notice about its 2027 releases needing Node 22 is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
process.env.AWS_ACCESS_KEY_ID = 'local';
process.env.AWS_SECRET_ACCESS_KEY = 'local';
const stem = `t${randomBytes(5).toString('hex')}`;
process.env[ENV.keysTable] = `${stem}-keys`;
process.env[ENV.sessionsTable] = `${stem}-sessions`;
process.env[ENV.usersTable] = `${stem}-users`;
process.env[ENV.localPepper] = randomBytes(32).toString('base64url');
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
// In-process handlers would print an EMF record to stdout per write; the tests of the metrics read the built bundles' output.
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
