import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import type { Db } from '../../server/platform/db';
import { adminQuery, withDatabase } from './template';

export { TEST_DEMO_PASSWORD } from './template';

/**
 * A fresh database for one test file, copied from the run's template (demo district seeded).
 * The returned close() drops it.
 */
export async function createTestDb(): Promise<Db> {
  const template = inject('dbTemplate');
  if (template.engine === 'postgres') {
    const url = process.env.DATABASE_URL;
    if (!url) throw new Error('the template is on a server but DATABASE_URL is unset');
    const name = `${template.ref.replace(/_template_\d+$/, '')}_${randomBytes(4).toString('hex')}`;
    await adminQuery(url, `CREATE DATABASE "${name}" TEMPLATE "${template.ref}"`);
    const { openPostgres } = await import('../../server/platform/db/postgres');
    const db = openPostgres(withDatabase(url, name), { max: 4 });
    const close = db.close;
    return Object.assign(db, {
      async close() {
        await close();
        await adminQuery(url, `DROP DATABASE IF EXISTS "${name}"`);
      },
    });
  }
  const { openPglite } = await import('../../server/platform/db/pglite');
  return openPglite({ loadDataDir: new Blob([readFileSync(template.ref)]) });
}
