import { fileURLToPath } from 'node:url';
import { DataSource } from 'typeorm';
import { attacheEntities } from './src/records/index.ts';

const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * The DataSource for the TypeORM CLI and `npm run migrate` (the only DataSource export, as the CLI
 * requires). The schema comes from migrations only: never synchronize, so it stays Rails' schema.
 */
export const AppDataSource = new DataSource({
  type: 'postgres',
  url: process.env.DATABASE_URL || DEFAULT_DATABASE_URL,
  entities: attacheEntities,
  migrations: [fileURLToPath(new URL('./migrations/*.ts', import.meta.url))],
  synchronize: false,
  migrationsRun: false,
  logging: ['error', 'warn', 'migration'],
});
