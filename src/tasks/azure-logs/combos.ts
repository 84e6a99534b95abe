// The distinct dimension tuples records fall into, each with the counter keys it adds to. A
// record is looked up field by field in a tree of maps: no composite key string is built, hashed
// and thrown away per record, and the tuples of one job are few (thousands against millions of
// records), so each tuple's keys are worked out once.
import { dimKey } from '../../aggregate/delta.js';
import type { StatusClass } from './record.js';

/** A record's dimensions: day, model, version, deployment, operation, category, resource, status, class. */
type ComboParts = readonly [
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
  StatusClass,
];

export interface Combo {
  /** The counters one record of this tuple adds 1 to. */
  readonly counters: readonly string[];
  /** The latency sketch its records go to (per model and version). */
  readonly sketch: string;
}

export const RECORDS_KEY = dimKey('records');

type Level = Map<string | null, unknown>;

/**
 * Nodes (maps and tuples) kept before the tree starts afresh; Combos handed out stay valid. A combo
 * with its counter keys takes ~1 KB, and a job over many days has many: at 50,000 nodes the trees
 * of two parser threads held ~45 MB on a 6 GB, 720-day benchmark set (peak RSS 259 MiB, 212 MiB at
 * 10,000), for no speed, since the native scanner asks once per tuple and parse job.
 */
const MAX_NODES = 10_000;

export class ComboIndex {
  private root: Level = new Map();
  /** Maps and tuples in the tree. */
  private size = 0;

  find(
    day: string | null,
    model: string | null,
    version: string | null,
    deployment: string | null,
    operation: string | null,
    category: string | null,
    resource: string | null,
    status: string | null,
    cls: StatusClass,
  ): Combo {
    if (this.size >= MAX_NODES) {
      this.root = new Map();
      this.size = 0;
    }
    let level = this.next(this.root, day);
    level = this.next(level, model);
    level = this.next(level, version);
    level = this.next(level, deployment);
    level = this.next(level, operation);
    level = this.next(level, category);
    level = this.next(level, resource);
    const leaves = this.next(level, status);
    let combo = leaves.get(cls) as Combo | undefined;
    if (combo === undefined) {
      combo = newCombo([day, model, version, deployment, operation, category, resource, status, cls]);
      leaves.set(cls, combo);
      this.size += 1;
    }
    return combo;
  }

  private next(parent: Level, key: string | null): Level {
    let level = parent.get(key) as Level | undefined;
    if (level === undefined) {
      level = new Map();
      parent.set(key, level);
      this.size += 1;
    }
    return level;
  }
}

function newCombo(parts: ComboParts): Combo {
  const [day, model, version, deployment, operation, category, resource, status, cls] = parts;
  return {
    counters: [
      RECORDS_KEY,
      dimKey('class', cls),
      ...(status !== null ? [dimKey('code', status)] : []),
      dimKey('day_model', day, model, version, cls),
      dimKey('deployment', deployment, cls),
      dimKey('operation', operation, cls),
      dimKey('category', category, cls),
      dimKey('resource', resource, cls),
    ],
    sketch: dimKey('model', model, version),
  };
}
