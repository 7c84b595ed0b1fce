import { diskAdapter } from './disk/DiskService.ts';
import { globalAdapters } from './registry.ts';

// The built-in adapters are registered exactly as a user's would be.
globalAdapters.register('Disk', diskAdapter);
