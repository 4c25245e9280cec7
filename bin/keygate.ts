/** The admin CLI: `npm run --silent keygate -- keys create|list|delete ...` (see lib/local/cli.ts). */
import { run } from '../lib/local/cli';

// Errors are one line on stderr: drop the AWS SDK's Node.js version notice (the runtime the functions deploy to is Node.js 22).
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (!warning.message.includes('NodeVersionSupportWarning')) process.stderr.write(`(node) ${warning.name}: ${warning.message}\n`);
});

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`keygate: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
