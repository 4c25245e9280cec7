/**
 * `npm run build` (bundles part): every function bundled once into
 * `dist/functions/<name>/index.mjs`, what the construct deploys and what the
 * local stack, the tests and the bench run. Bundles whose inputs are unchanged
 * are kept; `--clean` rebuilds them all. Also copies the console's page
 * next to its compiled server (lib/build/console-assets.ts).
 */
import { rmSync } from 'node:fs';
import { BUNDLES_DIR } from '../lib/construct/function-bundles';
import { buildFunctions } from '../lib/build/bundles';
import { copyConsoleAssets } from '../lib/build/console-assets';

async function main(): Promise<void> {
  const clean = process.argv.includes('--clean');
  if (clean) rmSync(BUNDLES_DIR, { recursive: true, force: true });
  const started = Date.now();
  const { functions, reused } = await buildFunctions({ reuse: !clean });
  copyConsoleAssets();
  if (!process.argv.includes('--quiet')) {
    process.stderr.write(`keygate: ${functions.length} function bundles in ${BUNDLES_DIR} (${reused ? 'unchanged' : `built in ${Date.now() - started} ms`})\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`keygate: build failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
