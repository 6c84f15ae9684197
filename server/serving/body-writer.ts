/**
 * A response body written straight into one growing Buffer, from strings (UTF-8) and from Buffers of
 * text that repeats (a service's statuses, an instant's event times), so that an answer of hundreds
 * of kilobytes is never one JavaScript string: built as a string and turned into bytes, the answer
 * cost about four times as much CPU as copying its pieces (100 rows of 50 features with metadata,
 * 232 KB), and a string that size is allocated in V8's large-object space.
 */
export class BodyWriter {
  #buffer: Buffer;
  #length = 0;
  /** The bytes of repeated text, by the text, for this body only. */
  readonly #encoded = new Map<string, Buffer>();

  constructor(expectedBytes: number) {
    this.#buffer = Buffer.allocUnsafe(Math.max(256, expectedBytes));
  }

  /** Appends `text` as UTF-8. */
  text(text: string): void {
    // At most three bytes per UTF-16 unit (a surrogate pair is four bytes for two units).
    this.#reserve(text.length * 3);
    this.#length += this.#buffer.write(text, this.#length, 'utf8');
  }

  /** Appends `text`, encoded once per body however often it repeats: for text that recurs row after row. */
  repeated(text: string): void {
    let bytes = this.#encoded.get(text);
    if (bytes === undefined) this.#encoded.set(text, (bytes = Buffer.from(text, 'utf8')));
    this.#reserve(bytes.length);
    this.#buffer.set(bytes, this.#length);
    this.#length += bytes.length;
  }

  /** Appends `source[start, end)`, bytes already encoded (a stored record's values as read). */
  bytes(source: Buffer, start: number, end: number): void {
    this.#reserve(end - start);
    this.#length += source.copy(this.#buffer, this.#length, start, end);
  }

  /** The bytes written so far (a view of the writer's buffer). */
  finish(): Buffer {
    return this.#buffer.subarray(0, this.#length);
  }

  #reserve(bytes: number): void {
    if (this.#length + bytes <= this.#buffer.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.#buffer.length * 2, this.#length + bytes));
    this.#buffer.copy(bigger, 0, 0, this.#length);
    this.#buffer = bigger;
  }
}
