import { describe, expect, it } from "vitest";
import { AppError } from "../../../src/domain/errors.js";
import { normalizePageText } from "../../../src/ingest/page-text.js";
import { extractPlainText, stripMarkdown } from "../../../src/ingest/plain-text.js";

const utf8 = (text: string) => new TextEncoder().encode(text);

function failure(run: () => unknown): AppError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error("expected a failure");
}

describe("normalizePageText", () => {
  it("collapses spaces, keeps line and paragraph breaks, trims", () => {
    expect(normalizePageText("  One \t two\u00a0 three  \r\nfour\n\n\n\n five  ")).toBe("One two three\nfour\n\nfive");
  });

  it("turns ligatures and full-width forms into plain characters (NFKC)", () => {
    expect(normalizePageText("\uFB01nd the \uFB02ow ＡＢＣ１２３")).toBe("find the flow ABC123");
  });

  it("joins words hyphenated across a line break only when asked, and only before a lower-case letter", () => {
    const text = "an ex-\nample, a well-\nknown self-\nEvident case, soft\u00ADhy\u00AD\nphens";
    expect(normalizePageText(text, { dehyphenate: true })).toBe(
      "an example, a wellknown self-\nEvident case, softhyphens",
    );
    expect(normalizePageText("an ex-\nample")).toBe("an ex-\nample");
  });

  it("drops control and zero-width characters", () => {
    expect(normalizePageText("a\u0000b\u0007c\u200Bd\uFEFFe")).toBe("a b cde");
  });
});

describe("extractPlainText", () => {
  it("reads UTF-8 text as one page and strips the byte-order mark", () => {
    expect(extractPlainText(utf8("\uFEFFHello,  world.\r\nSecond line."), "txt")).toEqual({
      pages: ["Hello, world.\nSecond line."],
    });
  });

  it("starts a new page at each form feed", () => {
    expect(extractPlainText(utf8("Page one.\fPage two.\f\fPage four.\f"), "txt")).toEqual({
      pages: ["Page one.", "Page two.", "", "Page four."],
    });
  });

  it("reads UTF-16 text that carries a byte-order mark", () => {
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("Grüße aus Köln", "utf16le")]);
    expect(extractPlainText(new Uint8Array(le), "txt")).toEqual({ pages: ["Grüße aus Köln"] });
  });

  it("refuses text that is not UTF-8, with advice", () => {
    const latin1 = new Uint8Array(Buffer.from("Caf\xe9 cr\xe8me", "latin1"));
    const error = failure(() => extractPlainText(latin1, "txt"));
    expect(error.code).toBe("unsupported_type");
    expect(error.message).toMatch(/UTF-8/);
  });

  it("refuses binary data", () => {
    const binary = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
    const error = failure(() => extractPlainText(binary, "txt"));
    expect(error.code).toBe("unsupported_type");
    expect(error.message).toMatch(/plain text/);
    expect(failure(() => extractPlainText(utf8("text\u0000with a NUL"), "md")).code).toBe("unsupported_type");
  });

  it("reports an empty file", () => {
    expect(failure(() => extractPlainText(utf8(" \n\t\f \n"), "txt")).code).toBe("empty_document");
  });

  it("keeps markdown's words and drops its syntax", () => {
    const markdown = [
      "---",
      "# Release *notes* #",
      "",
      "Setext title",
      "============",
      "",
      "Some **bold**, __strong__, _italic_ and ~~old~~ words, `inline code`, a snake_case_name and 2 * 3 * 4.",
      'See [the guide](https://example.com/guide "Guide") and ![a diagram](img/d.png), or [docs][ref].',
      "[ref]: https://example.com/docs",
      "> Quoted *advice*.",
      "- [x] done item",
      "* bullet item",
      "1. numbered item",
      "| Name | Role |",
      "|------|:----:|",
      "| Ada  | Eng  |",
      '<div align="center">Centered <b>text</b></div><!-- hidden -->',
      "```ts",
      "const x = a * b * c; // **kept** as code",
      "```",
      "Escaped \\*stars\\* stay.",
    ].join("\n");
    const { pages } = extractPlainText(utf8(markdown), "md");
    expect(pages).toEqual([
      [
        "Release notes",
        "",
        "Setext title",
        "",
        "Some bold, strong, italic and old words, inline code, a snake_case_name and 2 * 3 * 4.",
        "See the guide and a diagram, or docs.",
        "Quoted advice.",
        "done item",
        "bullet item",
        "numbered item",
        "Name | Role",
        "Ada | Eng",
        "Centered text",
        "const x = a * b * c; // **kept** as code",
        "Escaped *stars* stay.",
      ].join("\n"),
    ]);
  });

  it("leaves text without markdown alone", () => {
    const text = "Plain prose, with punctuation: (parentheses), [brackets] and a_b_c identifiers.";
    expect(stripMarkdown(text)).toBe(text);
  });
});
