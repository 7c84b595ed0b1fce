import path from 'node:path';
import { ConfigurationError } from '../../core/errors.ts';
import type { AdapterDefinition } from '../adapters.ts';
import { DiskService } from './DiskService.ts';

/** The Disk adapter: settings `root` (required; relative to the app root) and `public`, as in Rails. */
export const diskAdapter: AdapterDefinition = {
  settings: ['root', 'public'],
  required: ['root'],
  create(settings, context) {
    const { root, public: isPublic } = settings;
    if (typeof root !== 'string' || root.trim() === '') throw ConfigurationError.invalidSetting(context.name, 'root', 'a non-empty path');
    if (isPublic !== undefined && typeof isPublic !== 'boolean') throw ConfigurationError.invalidSetting(context.name, 'public', 'true or false');
    return new DiskService({ name: context.name, root: path.resolve(context.appRoot, root), public: isPublic, urls: context.diskUrls?.forDisk(context.name) });
  },
};
