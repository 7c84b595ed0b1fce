import { globalAdapters } from './adapters.ts';
import { diskAdapter } from './disk/adapter.ts';
import { mirrorAdapter } from './mirror/MirrorService.ts';
import { S3_SETTINGS, SECURE_S3_SETTINGS } from './s3/setting-names.ts';

// The built-in adapters are registered exactly as a user's would be. S3 and SecureS3 are lazy: the
// AWS SDK is imported only when a configuration uses them (ServiceRegistry#preload, at Attache.init),
// so `import 'attache'` loads no @aws-sdk module.
globalAdapters.register('Disk', diskAdapter);
globalAdapters.register('Mirror', mirrorAdapter);
globalAdapters.register('S3', {
  settings: S3_SETTINGS,
  required: ['bucket'],
  load: async () => (await import('./s3/adapters.ts')).s3Adapter,
});
globalAdapters.register('SecureS3', {
  settings: SECURE_S3_SETTINGS,
  required: ['bucket'],
  load: async () => (await import('./s3/adapters.ts')).secureS3Adapter,
});
