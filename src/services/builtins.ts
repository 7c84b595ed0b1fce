import { diskAdapter } from './disk/DiskService.ts';
import { mirrorAdapter } from './mirror/MirrorService.ts';
import { globalAdapters } from './registry.ts';
import { s3Adapter } from './s3/S3Service.ts';
import { secureS3Adapter } from './s3/SecureS3Service.ts';

// The built-in adapters are registered exactly as a user's would be.
globalAdapters.register('Disk', diskAdapter);
globalAdapters.register('Mirror', mirrorAdapter);
globalAdapters.register('S3', s3Adapter);
globalAdapters.register('SecureS3', secureS3Adapter);
