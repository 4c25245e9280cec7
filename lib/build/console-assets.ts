import { cpSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { PACKAGE_ROOT } from '../construct/function-bundles';

/**
 * The console's page (HTML, one script, one stylesheet) is plain files that
 * tsc does not emit. The server serves them from `static/` next to itself:
 * `lib/admin/console/static` when run from the sources, and this copy in
 * `dist/` when run from the package.
 */
export const CONSOLE_ASSETS_SOURCE = path.join(PACKAGE_ROOT, 'lib', 'admin', 'console', 'static');
export const CONSOLE_ASSETS_BUILT = path.join(PACKAGE_ROOT, 'dist', 'lib', 'admin', 'console', 'static');

export function copyConsoleAssets(): void {
  rmSync(CONSOLE_ASSETS_BUILT, { recursive: true, force: true });
  cpSync(CONSOLE_ASSETS_SOURCE, CONSOLE_ASSETS_BUILT, { recursive: true });
}
