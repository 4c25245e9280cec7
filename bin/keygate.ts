#!/usr/bin/env node
/** The admin CLI: `npm run --silent keygate -- keys create|list|delete ...` (see lib/admin/cli.ts); installed, `npx keygate ...`. */
import { run } from '../lib/admin/cli';

// Errors are one line on stderr: the AWS SDK's notice that its 2027 releases need Node 22 would add lines to every run.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`keygate: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
