/**
 * npm run seed -- [region] [--force] [--no-demo] [--no-history]
 * Seeds a region (default: the demo district, yingze) into DATABASE_URL, or the embedded database
 * in DATA_DIR; the demo seed includes 30 days of closed tickets unless --no-history. Refuses a
 * non-empty database unless --force.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../server/platform/config';
import { openDb } from '../server/platform/db';
import { migrate } from '../server/platform/db/migrate';
import { availableRegions, seedRegion, SeedError } from './seed';
import { progressBar } from './progress';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    force: { type: 'boolean', default: false },
    'no-demo': { type: 'boolean', default: false },
    'no-history': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(`usage: npm run seed -- [${availableRegions().join('|')}] [--force] [--no-demo] [--no-history]`);
  process.exit(0);
}
const config = loadConfig();
const slug = positionals[0] ?? 'yingze';
const db = await openDb(config);
try {
  await migrate(db, (m) => console.error(m));
  console.error(`Seeding ${slug} into ${db.engine === 'postgres' ? 'the PostgreSQL server' : config.dataDir}…`);
  const demo = !values['no-demo'] && slug === 'yingze';
  const summary = await seedRegion(db, slug, {
    force: values.force,
    demo,
    history: demo && !values['no-history'] && { offerTimeoutS: config.dispatchOfferTimeoutS },
    demoPassword: config.demoPassword,
    progress: progressBar(),
  });
  console.log(JSON.stringify(summary, null, 2));
} catch (error) {
  if (error instanceof SeedError) {
    console.error(`seed: ${error.message}`);
    process.exitCode = 2;
  } else throw error;
} finally {
  await db.close();
}
