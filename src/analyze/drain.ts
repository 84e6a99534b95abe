// Template mining with Drain (He et al., ICWS 2017): a fixed-depth parse tree keyed by token count
// and the first tokens, then the most similar cluster in the leaf, above a similarity threshold.
// States from different files merge, so files can be mined apart (in parallel) and combined.
import { createHash } from 'node:crypto';
import type { Level } from './levels.js';
import { isoOfKey, keyOfIso, NO_TIME, type TimeKey } from './time.js';

export const WILDCARD = '<*>';

export interface DrainOptions {
  /** Tree depth including the root and length layers (Drain's `depth`, default 4). */
  depth: number;
  /** Share of a template's constant tokens a message must equal to join it (default 0.5). */
  similarity: number;
  /** Children per tree node before tokens fold into `<*>` (default 100). */
  maxChildren: number;
  /** Most clusters kept; further messages are counted in an overflow cluster (default 5,000). */
  maxClusters: number;
}

export const DRAIN_DEFAULTS: DrainOptions = {
  depth: 4,
  similarity: 0.5,
  maxChildren: 100,
  maxClusters: 5000,
};

/** Paths with two or more segments. */
const PATH_MASK = /(?<![\w/])(?:\/[\w.@%+~-]+){2,}\/?/g;

// Variables masked before mining, most specific first. Each becomes `<*>` within its token.
const MASKS: RegExp[] = [
  /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, // UUID
  /\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b/g, // IPv4[:port]
  /\b(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b/gi, // IPv6 (full form)
  /\b0x[0-9a-f]+\b/gi, // hex literal
  /\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b/gi, // hex id (hashes, request ids)
  PATH_MASK,
  /\b\d+(?:\.\d+)?\s?(?:ns|us|µs|ms|s|sec|secs|seconds|min|mins|minutes|h|hours)\b/g, // durations
  /(?<![A-Za-z])[-+]?\d+(?:[.,:]\d+)*(?![A-Za-z])/g, // numbers (not inside words)
];

/**
 * The key under which a message's masked tokens are remembered is the message with every digit
 * made `1`, for messages whose tokens then come out the same. Every mask treats all digits alike
 * (`\d`, `[0-9a-f]`, `\w`) but the hex literal's `0x`, so messages holding `0x` get no key, and
 * masks match at the same places in a message and in its key. Their tokens are equal when the
 * key's tokens keep no digit (a digit no mask took, as in `abc123`, would be the message's own).
 *
 * This is a hash of that key (FNV-1a over its characters), computed without building the key;
 * -1 when the message has no key (too long, or holding `0x`).
 */
function shapeHash(message: string): number {
  const n = message.length;
  if (n > MAX_SHAPE_CHARS) return -1;
  let h = 0x811c9dc5;
  let previous = 0;
  for (let i = 0; i < n; i++) {
    const raw = message.charCodeAt(i);
    if ((raw === 120 || raw === 88) && previous === 48) return -1; // `0x`
    previous = raw;
    h = Math.imul(h ^ (raw >= 48 && raw <= 57 ? 49 : raw), 0x01000193);
  }
  // 30 bits: a small integer to V8, which a Map hashes and compares without a heap number.
  return h & 0x3fffffff;
}

const MAX_SHAPE_CHARS = 400;
const DIGITS = /\d/g;
const HEX_PREFIX = /1[xX]/;

/** Matches after which a shape's key is compiled into a pattern (see `fits`). */
const COMPILE_AFTER = 16;

/**
 * Whether `message` has this shape's key. A shape met often is checked by a pattern made of its
 * key (each `1` a digit, the rest as it is): V8's pattern code reads a slice of a line several
 * times faster than a loop of `charCodeAt` does.
 */
function fits(shape: Shape, message: string): boolean {
  if (shape.pattern) return shape.pattern.test(message);
  if (!hasKey(shape.key, message)) return false;
  if (++shape.hits === COMPILE_AFTER) {
    shape.pattern = new RegExp(`^${shape.key.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&').replace(/1/g, '\\d')}$`);
  }
  return true;
}

/** Whether `message` has this key (the key with its digits as `1`). */
function hasKey(key: string, message: string): boolean {
  const n = key.length;
  if (message.length !== n) return false;
  for (let i = 0; i < n; i++) {
    let c = message.charCodeAt(i);
    if (c >= 48 && c <= 57) c = 49;
    if (c !== key.charCodeAt(i)) return false;
  }
  return true;
}

/** The message with variables replaced by `<*>`, split into tokens. */
export function maskTokens(message: string): string[] {
  let text = message;
  // Every mask but the path one needs a digit: messages without any skip them.
  if (/\d/.test(text)) for (const mask of MASKS) text = text.replace(mask, WILDCARD);
  else text = text.replace(PATH_MASK, WILDCARD);
  const tokens = text.trim().split(/\s+/);
  return tokens.length === 1 && tokens[0] === '' ? [] : tokens;
}

export interface Cluster {
  /** Index in the state's cluster list (stable for its life). */
  index: number;
  tokens: string[];
  count: number;
  levels: Partial<Record<Level, number>>;
  /** When its first and last messages were written (NO_TIME: none had a time). */
  first: TimeKey;
  last: TimeKey;
}

/** A cluster's first and last times as ISO 8601 text. */
export function seen(cluster: Cluster): { firstSeen: string | null; lastSeen: string | null } {
  return { firstSeen: isoOfKey(cluster.first), lastSeen: isoOfKey(cluster.last) };
}

interface TreeNode {
  children: Map<string, TreeNode>;
  clusters: number[];
  /** Bumped whenever a cluster of this leaf is added or generalised: its searches may now differ. */
  version: number;
}

function node(): TreeNode {
  return { children: new Map(), clusters: [], version: 0 };
}

/**
 * What one message shape (see shapeHash) came to: its masked tokens and, while nothing that decides
 * a search has changed since (no node added to the tree, no cluster of its leaf added or
 * generalised), the cluster that search found. Search is a pure function of that state, so
 * reusing its answer is exact; the cluster already covers the tokens, so nothing generalises.
 */
interface Shape {
  /** The message with its digits as `1`. */
  key: string;
  /** Messages found to have the key so far, up to COMPILE_AFTER; then `pattern` checks them. */
  hits: number;
  pattern: RegExp | null;
  /** Null when the message's own digits survive masking: its tokens are not the key's. */
  tokens: string[] | null;
  cluster: Cluster | null;
  leaf: TreeNode | null;
  leafVersion: number;
  treeVersion: number;
}

/** Shapes remembered per state; past this the memory starts over (logs with endless shapes). */
const MAX_SHAPES = 20_000;

const hasDigit = (token: string) => /\d/.test(token);

export class Drain {
  readonly clusters: Cluster[] = [];
  private readonly root = node();
  /** Messages that arrived once `maxClusters` was reached. */
  overflow = 0;
  /** Bumped whenever a node is added to the tree: a message may now walk to another leaf. */
  private treeVersion = 0;
  private readonly shapes = new Map<number, Shape[]>();
  private shapeCount = 0;
  /** The two shapes last found for a message of each length, at 2 × length and the next (see `add`). */
  private readonly byLength: (Shape | undefined)[] = new Array(2 * (MAX_SHAPE_CHARS + 1)).fill(undefined);

  constructor(readonly options: DrainOptions = DRAIN_DEFAULTS) {}

  /** Adds one message; returns its cluster's index (-1 when the cap was reached). */
  add(message: string, level: Level | null = null, time: TimeKey = NO_TIME): number {
    const length = message.length;
    // The two shapes last seen at this length, tried first: one pass over the message when it is
    // one of them (a log's few shapes seldom share a length), and passes cut short when it is not.
    const slot = 2 * length;
    let shape = length <= MAX_SHAPE_CHARS ? this.byLength[slot] : undefined;
    if (!shape || !fits(shape, message)) {
      shape = this.byLength[slot + 1];
      if (!shape || !fits(shape, message)) {
        const hash = shapeHash(message);
        if (hash < 0) return this.addOne(maskTokens(message), level, time, null);
        shape = this.shapeOf(hash, message);
        // Only a key without `1x` stands for no message holding `0x` (see shapeHash), which the
        // hash turns away and `hasKey` alone would not.
        if (!HEX_PREFIX.test(shape.key)) {
          this.byLength[slot + 1] = this.byLength[slot];
          this.byLength[slot] = shape;
        }
      }
    }
    if (!shape.tokens) return this.addOne(maskTokens(message), level, time, null);
    const { cluster, leaf } = shape;
    if (cluster && leaf && leaf.version === shape.leafVersion && this.treeVersion === shape.treeVersion) {
      this.count(cluster, level, time);
      return cluster.index;
    }
    return this.addOne(shape.tokens, level, time, shape);
  }

  /** The shape of a message with a key whose hash is `hash`: one seen before, or a new one. */
  private shapeOf(hash: number, message: string): Shape {
    // Shapes by the hash of their key, the key checked against the message: no key is built
    // for a shape already seen.
    let bucket = this.shapes.get(hash);
    if (bucket) for (const s of bucket) if (fits(s, message)) return s;
    const key = message.replace(DIGITS, '1');
    const tokens = maskTokens(key);
    if (this.shapeCount >= MAX_SHAPES) {
      this.shapes.clear();
      this.byLength.fill(undefined);
      this.shapeCount = 0;
      bucket = undefined;
    }
    // A digit left in the key's tokens stands for the message's own digit: such messages are masked each time.
    const shape: Shape = {
      key,
      hits: 0,
      pattern: null,
      tokens: tokens.some(hasDigit) ? null : tokens,
      cluster: null,
      leaf: null,
      leafVersion: -1,
      treeVersion: -1,
    };
    if (bucket) bucket.push(shape);
    else this.shapes.set(hash, [shape]);
    this.shapeCount += 1;
    return shape;
  }

  /** One message's tokens, remembering in `shape` (if any) where they went. */
  private addOne(tokens: string[], level: Level | null, time: TimeKey, shape: Shape | null): number {
    const found = this.place(tokens, 1);
    if (!found) return -1;
    this.count(found.cluster, level, time);
    // Only a search that found its cluster is remembered: one that started a cluster might not
    // find it again (a message of mostly `<*>` is below the similarity threshold even to itself).
    if (shape && !found.created) {
      shape.cluster = found.cluster;
      shape.leaf = found.leaf;
      shape.leafVersion = found.leaf.version;
      shape.treeVersion = this.treeVersion;
    }
    return found.cluster.index;
  }

  private count(cluster: Cluster, level: Level | null, time: TimeKey): void {
    cluster.count += 1;
    if (level) cluster.levels[level] = (cluster.levels[level] ?? 0) + 1;
    if (time >= 0) {
      if (cluster.first < 0 || time < cluster.first) cluster.first = time;
      if (time > cluster.last) cluster.last = time;
    }
  }

  addTokens(
    tokens: string[],
    count: number,
    levels: Partial<Record<Level, number>>,
    firstSeen: string | null,
    lastSeen: string | null,
  ): number {
    const found = this.place(tokens, count);
    if (!found) return -1;
    const { cluster } = found;
    cluster.count += count;
    for (const [level, n] of Object.entries(levels) as [Level, number][]) {
      cluster.levels[level] = (cluster.levels[level] ?? 0) + n;
    }
    const first = keyOfIso(firstSeen);
    const last = keyOfIso(lastSeen);
    if (first >= 0 && (cluster.first < 0 || first < cluster.first)) cluster.first = first;
    if (last > cluster.last) cluster.last = last;
    return cluster.index;
  }

  /** The cluster `tokens` join (generalised to cover them) or start, and its leaf; null past the cap. */
  private place(
    tokens: string[],
    count: number,
  ): { cluster: Cluster; leaf: TreeNode; created: boolean } | null {
    const found = this.search(tokens);
    if (found) {
      const { cluster, leaf } = found;
      // Generalising keeps the cluster's similarity to these tokens and adds wildcards: the same
      // search would find it again.
      if (!sameTokens(cluster.tokens, tokens)) {
        cluster.tokens = generalise(cluster.tokens, tokens);
        leaf.version += 1;
      }
      return { cluster, leaf, created: false };
    }
    if (this.clusters.length >= this.options.maxClusters) {
      this.overflow += count;
      return null;
    }
    const cluster: Cluster = {
      index: this.clusters.length,
      tokens: [...tokens],
      count: 0,
      levels: {},
      first: NO_TIME,
      last: NO_TIME,
    };
    this.clusters.push(cluster);
    return { cluster, leaf: this.insert(cluster), created: true };
  }

  /**
   * Adds every cluster of `other` into this state, as Drain would have had it seen their
   * messages; returns, for each of `other`'s cluster indexes, the index it now has here.
   */
  merge(other: Drain): number[] {
    return other.clusters.map((c) =>
      this.addTokens(c.tokens, c.count, c.levels, isoOfKey(c.first), isoOfKey(c.last)),
    );
  }

  private prefixKeys(tokens: string[]): string[] {
    const keys = [String(tokens.length)];
    const layers = Math.min(this.options.depth - 2, tokens.length);
    for (let i = 0; i < layers; i++) keys.push(tokens[i] as string);
    return keys;
  }

  private search(tokens: string[]): { cluster: Cluster; leaf: TreeNode } | null {
    const [length, ...prefix] = this.prefixKeys(tokens);
    let at: TreeNode | undefined = this.root.children.get(length as string);
    if (!at) return null;
    for (const token of prefix) {
      const next: TreeNode | undefined = at.children.get(token) ?? at.children.get(WILDCARD);
      if (!next) return null;
      at = next;
    }
    let best: Cluster | null = null;
    let bestSim = -1;
    let bestParams = -1;
    for (const index of at.clusters) {
      const cluster = this.clusters[index] as Cluster;
      const [sim, params] = similarity(cluster.tokens, tokens);
      if (sim > bestSim || (sim === bestSim && params > bestParams)) {
        best = cluster;
        bestSim = sim;
        bestParams = params;
      }
    }
    return best && bestSim >= this.options.similarity ? { cluster: best, leaf: at } : null;
  }

  private insert(cluster: Cluster): TreeNode {
    const [length, ...prefix] = this.prefixKeys(cluster.tokens);
    let at: TreeNode | undefined = this.root.children.get(length as string);
    if (!at) {
      at = node();
      this.root.children.set(length as string, at);
      this.treeVersion += 1;
    }
    const max = this.options.maxChildren;
    for (const token of prefix) {
      const children: Map<string, TreeNode> = at.children;
      let next: TreeNode | undefined = children.get(token);
      if (!next) {
        const key =
          hasDigit(token) || token === WILDCARD
            ? WILDCARD
            : children.has(WILDCARD)
              ? children.size < max
                ? token
                : WILDCARD
              : children.size + 1 < max
                ? token
                : WILDCARD;
        next = children.get(key);
        if (!next) {
          next = node();
          children.set(key, next);
          this.treeVersion += 1;
        }
      }
      at = next;
    }
    at.clusters.push(cluster.index);
    at.version += 1;
    return at;
  }
}

/** Share of the template's tokens equal to the message's, and how many wildcards it has. */
function similarity(template: string[], tokens: string[]): [number, number] {
  let same = 0;
  let params = 0;
  for (let i = 0; i < template.length; i++) {
    const t = template[i] as string;
    if (t === WILDCARD) params += 1;
    else if (t === tokens[i]) same += 1;
  }
  return [template.length === 0 ? 1 : same / template.length, params];
}

function sameTokens(a: string[], b: string[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== WILDCARD && a[i] !== b[i]) return false;
  return true;
}

function generalise(template: string[], tokens: string[]): string[] {
  return template.map((t, i) => (t === tokens[i] ? t : WILDCARD));
}

export function templateText(tokens: string[]): string {
  return tokens.join(' ');
}

/** A template's id: the same template text gets the same id in every run and on every machine. */
export function templateId(template: string): string {
  return `T${createHash('sha1').update(template).digest('hex').slice(0, 8)}`;
}
