// Bounds on the dimension values taken from the data (model, version, deployment, operation,
// category, resource): a value is cut to a length, and past a number of distinct values its
// records fold into one "(other)" value. Hostile or broken data (a unique 1 MB string per record)
// then cannot grow the store or the report without bound; every record is still counted.

/** Longest dimension value kept, in characters; a longer one is cut and marked with TRUNCATED. */
export const MAX_VALUE_CHARS = 200;
/** Marks a value cut at MAX_VALUE_CHARS. */
export const TRUNCATED = '…';
/**
 * Distinct values kept per dimension by one parse job (a blob, a chunk of one, or a group of small
 * blobs): the values first seen are kept, later new ones fold into OTHER_VALUE. Real logs have tens
 * of models, deployments and accounts, not thousands.
 */
export const MAX_DISTINCT = 1000;
/** The value records fold into once a dimension has MAX_DISTINCT values. */
export const OTHER_VALUE = '(other)';

export const DIMENSIONS = ['model', 'version', 'deployment', 'operation', 'category', 'resource'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** The distinct values of one dimension, up to the cap. */
export class DistinctCap {
  private readonly seen = new Set<string>();
  /** The last value asked about and its answer: records come in runs of the same model and deployment. */
  private lastIn: string | null = null;
  private lastOut = '';

  constructor(private readonly max = MAX_DISTINCT) {}

  /** The value to count `value` under: itself (cut to length), or OTHER_VALUE past the cap. */
  admit(value: string): string {
    if (value === this.lastIn) return this.lastOut;
    this.lastIn = value;
    this.lastOut = this.lookUp(value);
    return this.lastOut;
  }

  private lookUp(value: string): string {
    const kept = value.length > MAX_VALUE_CHARS ? `${value.slice(0, MAX_VALUE_CHARS)}${TRUNCATED}` : value;
    if (this.seen.has(kept)) return kept;
    if (this.seen.size >= this.max) return OTHER_VALUE;
    this.seen.add(kept);
    return kept;
  }
}
