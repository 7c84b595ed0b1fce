import { diskAdapter } from './disk/DiskService.ts';
import { mirrorAdapter } from './mirror/MirrorService.ts';
import { globalAdapters } from './registry.ts';

// The built-in adapters are registered exactly as a user's would be.
globalAdapters.register('Disk', diskAdapter);
globalAdapters.register('Mirror', mirrorAdapter);
