import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The package's version (package.json beside dist/ in the image and in a checkout), for logs, target_info and tiercel_build_info. */
export const TIERCEL_VERSION: string = (() => {
  try {
    const v = (JSON.parse(readFileSync(join(__dirname, '../../../package.json'), 'utf8')) as { version?: unknown }).version;
    return typeof v === 'string' && v !== '' ? v : 'unknown';
  } catch {
    return 'unknown';
  }
})();
