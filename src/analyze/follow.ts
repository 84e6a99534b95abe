// Placeholder until --follow lands.
import { UsageError } from '../errors.js';
export async function followFiles(..._args: unknown[]): Promise<void> {
  throw new UsageError('--follow is not available yet');
}
