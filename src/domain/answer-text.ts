/**
 * Turns a model's raw answer text into the text readers see, piece by piece as it streams: passage
 * markers `[n]` are renumbered 1.. in order of first citation (markers naming no passage are dropped),
 * a model's reasoning aside (`<thinking>…</thinking>` from Nova, `<think>…</think>` from DeepSeek-R1 and Qwen
 * on Ollama) is left out, leading whitespace and spaces before a line
 * break are trimmed. Fed the whole text at once it gives the same result as fed in any pieces, so a
 * streamed answer and the stored one are the same text.
 */
export class AnswerText {
  private readonly renumber = new Map<number, number>();
  /** Original passage numbers in order of first citation. */
  readonly cited: number[] = [];
  private held = "";
  private spaces = "";
  private started = false;
  /** The closing tag of the aside being skipped, if any. */
  private thinking: string | undefined;
  private out = "";

  /** @param known whether a passage number names a retrieved passage (asked when the marker arrives). */
  constructor(private readonly known: (n: number) => boolean) {}

  /** Takes the next piece of raw text; returns the text that can be shown now (possibly ""). */
  push(raw: string): string {
    this.held += raw;
    let emitted = "";
    for (;;) {
      if (this.thinking) {
        const close = this.thinking;
        const end = this.held.indexOf(close);
        if (end < 0) {
          this.held = this.held.slice(Math.max(0, this.held.length - close.length + 1));
          return this.record(emitted);
        }
        this.held = this.held.slice(end + close.length);
        this.thinking = undefined;
        continue;
      }
      const special = this.held.search(/[[<]/);
      if (special < 0) {
        emitted += this.plain(this.held);
        this.held = "";
        return this.record(emitted);
      }
      emitted += this.plain(this.held.slice(0, special));
      this.held = this.held.slice(special);
      if (this.held.startsWith("<")) {
        const open = ASIDES.find((tag) => this.held.startsWith(tag));
        if (open) {
          this.held = this.held.slice(open.length);
          this.thinking = `</${open.slice(1)}`;
          continue;
        }
        if (ASIDES.some((tag) => tag.startsWith(this.held))) return this.record(emitted); // may still become a tag
        emitted += this.plain("<");
        this.held = this.held.slice(1);
        continue;
      }
      const marker = /^\[(\d{1,3})\]/.exec(this.held);
      if (marker) {
        emitted += this.marker(Number(marker[1]));
        this.held = this.held.slice(marker[0].length);
        continue;
      }
      if (/^\[\d{0,3}$/.test(this.held)) return this.record(emitted); // an unfinished marker
      emitted += this.plain("[");
      this.held = this.held.slice(1);
    }
  }

  /** Ends the text; returns whatever was still held back. */
  end(): string {
    const rest = this.thinking ? "" : this.plain(this.held);
    this.held = "";
    this.spaces = "";
    this.thinking = undefined;
    return this.record(rest);
  }

  /** Everything shown so far. */
  get text(): string {
    return this.out;
  }

  private record(emitted: string): string {
    this.out += emitted;
    return emitted;
  }

  private marker(n: number): string {
    if (!this.known(n)) return "";
    let mapped = this.renumber.get(n);
    if (mapped === undefined) {
      this.cited.push(n);
      mapped = this.cited.length;
      this.renumber.set(n, mapped);
    }
    return this.plain(`[${mapped}]`);
  }

  /**
   * Plain text: whitespace is held until the next visible character, so the text never starts or ends
   * with whitespace and spaces before a line break are dropped, wherever the pieces were cut.
   */
  private plain(text: string): string {
    let out = "";
    for (const ch of text) {
      if (/\s/.test(ch)) {
        if (this.started) this.spaces += ch;
        continue;
      }
      this.started = true;
      out += this.spaces.replace(/[ \t]+\n/g, "\n") + ch;
      this.spaces = "";
    }
    return out;
  }
}

const ASIDES = ["<thinking>", "<think>"];
