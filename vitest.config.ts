import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The consumer apps run against the packed package, in their own installs (npm run test:consumers).
    exclude: [...configDefaults.exclude, 'test/consumers/**'],
    // Starts (or finds) one PostgreSQL for the whole run and provides its URL as `databaseUrl`.
    globalSetup: ['test/support/global-setup.ts', 'test/support/s3-global-setup.ts'],
    testTimeout: 30_000,
    // An embedded PostgreSQL takes a few seconds to initialise; a container may need an image pull.
    hookTimeout: 120_000,
  },
});
