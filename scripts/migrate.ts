import { AppDataSource } from '../ormconfig.ts';

/** `npm run migrate`: runs pending migrations against DATABASE_URL and lists what ran. */
async function main(): Promise<void> {
  await AppDataSource.initialize();
  try {
    const ran = await AppDataSource.runMigrations({ transaction: 'all' });
    if (ran.length === 0) console.log('No pending migrations.');
    for (const migration of ran) console.log(`Ran ${migration.name}`);
  } finally {
    await AppDataSource.destroy();
  }
}

main().catch((error: unknown) => {
  console.error('Migration failed:', error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
