// The source registry: turns a <source> argument into a Source. One line per kind.
import { UsageError } from '../errors.js';
import { FileSource } from './file/index.js';
import type { Source } from './types.js';

export interface SourceOptions {
  connectionString?: string;
  verbose?: boolean;
}

export async function openSource(location: string, _options: SourceOptions = {}): Promise<Source> {
  if (/^(azure|https?):\/\//i.test(location)) {
    throw new UsageError(`${location.split('?')[0]}: Azure sources are not available in this build`);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) {
    throw new UsageError(
      `unknown source ${JSON.stringify(location.split('?')[0])}: use a folder path, file:<path>, azure://<account>/<container>[/<prefix>] or https://<account>.blob.core.windows.net/<container>`,
    );
  }
  return FileSource.open(location);
}
