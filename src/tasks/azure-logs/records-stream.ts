// Splits the pre-2018 {"records": [...]} form into its records as the bytes arrive, so a blob of
// any size (a 633 MB one-line document included) is parsed in bounded memory: only one record's
// bytes are ever held, never the document, and never a string longer than one record. It reads
// the bytes as Latin-1 text (one char per byte, as the line parser does): JSON's structure is ASCII.

/** Where the records stream's values go. */
export interface ValueSink {
  /** A whole value (Latin-1 text of its bytes): an element of a records array, or a top-level value that is not such a document. */
  value(text: string): void;
  /** One value that is not a record: past the size cap, a scalar element, or junk between documents. */
  malformed(): void;
}

enum State {
  /** Between top-level values. */
  Top,
  /** Inside `{ "records" : [`, still deciding whether this object is a records document. */
  Head,
  /** Inside a records array, between elements. */
  Array,
  /** Inside a value (an object or array) whose bytes are kept, up to the cap. */
  Value,
  /** Inside a scalar element of a records array (not a record: skipped to its end). */
  Scalar,
  /** Past a records array's `]`, to the end of the object that held it. */
  After,
  /** Bytes that start no JSON value, skipped to the end of their line. */
  Junk,
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const NEWLINE = 0x0a;
/** What a records document starts with once `{` and whitespace are past: matched byte by byte. */
const HEAD = ['"', 'r', 'e', 'c', 'o', 'r', 'd', 's', '"', ':', '['].map((c) => c.charCodeAt(0));

const isSpace = (b: number) => b === 0x20 || b === NEWLINE || b === 0x0d || b === 0x09;

/**
 * A byte-level scanner over a sequence of JSON values (whitespace between them), which hands each
 * element of a `{"records": [...]}` document to the sink one by one, and any other top-level value
 * whole. It only tracks strings, escapes and nesting depth: the values themselves are parsed by the
 * sink. A value larger than `maxValueBytes` is counted malformed and skipped without being kept.
 */
export class RecordsStream {
  private state = State.Top;
  /** Where a value ends: the state to return to. */
  private back = State.Top;
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** The text of the value being read, in pieces when it spans chunks. */
  private pieces: string[] = [];
  private held = 0;
  /** The value being read is past the cap: its bytes are no longer kept. */
  private oversized = false;
  /** Position in HEAD while matching a records document's start. */
  private matched = 0;

  constructor(
    private readonly sink: ValueSink,
    private readonly maxValueBytes: number,
  ) {}

  /** The next bytes, as Latin-1 text (`buffer.toString('latin1')`). */
  push(text: string): void {
    let i = 0;
    /** Start, in `buf`, of the value bytes not yet kept (a value left open by the last chunk goes on here). */
    let from = this.state === State.Value || this.state === State.Head ? 0 : -1;
    const n = text.length;
    while (i < n) {
      const b = text.charCodeAt(i);
      switch (this.state) {
        case State.Top:
          if (isSpace(b)) break;
          if (b === OPEN_BRACE) {
            this.startValue(State.Top);
            from = i;
            this.state = State.Head;
            this.matched = 0;
            this.depth = 1;
          } else if (b === OPEN_BRACKET) {
            this.startValue(State.Top);
            from = i;
            this.state = State.Value;
            this.depth = 1;
          } else {
            this.state = State.Junk;
          }
          break;
        case State.Head:
          if (isSpace(b) && (this.matched === 0 || this.matched >= HEAD.length - 2)) break;
          if (b === HEAD[this.matched]) {
            this.matched += 1;
            if (this.matched === HEAD.length) {
              // A records document: its elements go to the sink one by one, its head is dropped.
              this.pieces = [];
              this.held = 0;
              from = -1;
              this.state = State.Array;
            } else if (this.matched === 1) {
              this.inString = true;
            } else if (this.matched === HEAD.length - 2) {
              this.inString = false;
            }
            break;
          }
          // Some other object: an ordinary value from its `{` on. The bytes matched so far were
          // `{`, whitespace and part of `"records":[`, so where they leave the scan is known.
          this.state = State.Value;
          this.depth = 1;
          this.inString = this.matched >= 1 && this.matched < HEAD.length - 2;
          this.escaped = false;
          continue; // this byte is scanned again, as part of the value
        case State.Array:
          if (isSpace(b) || b === COMMA) break;
          if (b === CLOSE_BRACKET) {
            this.state = State.After;
            this.depth = 1;
          } else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
            this.startValue(State.Array);
            from = i;
            this.state = State.Value;
            this.depth = 1;
          } else {
            this.state = State.Scalar;
            this.inString = b === QUOTE;
          }
          break;
        case State.Value:
          if (this.closes(b)) {
            if (from >= 0) this.keep(text, from, i + 1);
            from = -1;
            this.endValue();
          }
          break;
        case State.Scalar:
          if (this.inString) {
            this.closes(b);
          } else if (b === COMMA || b === CLOSE_BRACKET) {
            this.sink.malformed();
            this.state = State.Array;
            continue; // the separator is read again by the array
          }
          break;
        case State.After:
          if (this.closes(b)) this.state = State.Top;
          break;
        case State.Junk:
          if (b === NEWLINE) {
            this.sink.malformed();
            this.state = State.Top;
          }
          break;
      }
      i += 1;
    }
    if (from >= 0) this.keep(text, from, n);
  }

  /** The end of the bytes: a value or document left open is a record cut mid-write (malformed). */
  end(): void {
    if (
      this.state === State.Value ||
      this.state === State.Head ||
      this.state === State.Scalar ||
      this.state === State.Junk
    ) {
      this.sink.malformed();
    }
    this.state = State.Top;
    this.pieces = [];
    this.held = 0;
  }

  /** Follows strings, escapes and nesting through byte `b`; true when it closes the outermost level. */
  private closes(b: number): boolean {
    if (this.inString) {
      if (this.escaped) this.escaped = false;
      else if (b === BACKSLASH) this.escaped = true;
      else if (b === QUOTE) this.inString = false;
    } else if (b === QUOTE) {
      this.inString = true;
    } else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
      this.depth += 1;
    } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
      this.depth -= 1;
      return this.depth === 0;
    }
    return false;
  }

  private startValue(back: State): void {
    this.back = back;
    this.pieces = [];
    this.held = 0;
    this.oversized = false;
    this.inString = false;
    this.escaped = false;
  }

  /** Keeps `text[from, to)` of the current value, unless it has passed the cap. */
  private keep(text: string, from: number, to: number): void {
    if (this.oversized || to <= from) return;
    this.held += to - from;
    if (this.held > this.maxValueBytes) {
      // Too large to parse: counted once when it ends, never joined into one buffer or string.
      this.oversized = true;
      this.pieces = [];
      return;
    }
    this.pieces.push(text.slice(from, to));
  }

  private endValue(): void {
    if (this.oversized) this.sink.malformed();
    else this.sink.value(this.pieces.length === 1 ? (this.pieces[0] as string) : this.pieces.join(''));
    this.pieces = [];
    this.held = 0;
    this.oversized = false;
    this.state = this.back;
  }
}
