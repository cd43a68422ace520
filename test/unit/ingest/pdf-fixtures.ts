import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { deflateSync } from "node:zlib";
import { PDFDocument, StandardFonts } from "pdf-lib";
import { sandboxStats } from "../../../src/ingest/child-sandbox.js";

/** Test PDFs built from scratch, so the suite needs no files from outside the repository. */

const latin1 = (text: string): Buffer => Buffer.from(text, "latin1");

export function pdfStream(data: string | Buffer, dict = ""): Buffer {
  const body = typeof data === "string" ? latin1(data) : data;
  return Buffer.concat([latin1(`<< /Length ${body.length} ${dict} >>\nstream\n`), body, latin1("\nendstream")]);
}

export const flateStream = (data: string | Buffer): Buffer =>
  pdfStream(deflateSync(typeof data === "string" ? latin1(data) : data), "/Filter /FlateDecode");

/** A PDF with a correct cross-reference table; objects[i] is object i + 1, object 1 is the catalog. */
export function rawPdf(objects: readonly (string | Buffer)[], trailer = ""): Uint8Array {
  const parts = [latin1("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")];
  let offset = parts[0]?.length ?? 0;
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(offset);
    const bytes = Buffer.concat([
      latin1(`${i + 1} 0 obj\n`),
      typeof body === "string" ? latin1(body) : body,
      latin1("\nendobj\n"),
    ]);
    parts.push(bytes);
    offset += bytes.length;
  });
  let xref = `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const at of offsets) xref += `${String(at).padStart(10, "0")} 00000 n \n`;
  xref += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R ${trailer} >>\nstartxref\n${offset}\n%%EOF\n`;
  parts.push(latin1(xref));
  return new Uint8Array(Buffer.concat(parts));
}

const HELVETICA = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>";

/** Catalog, page tree, one page with `resources` and content (object 5); font F1 is object 4. */
function onePage(
  content: Buffer | string,
  options: { font?: string; resources?: string; extraObjects?: (string | Buffer)[]; trailer?: string } = {},
): Uint8Array {
  const resources = options.resources ?? "/Font << /F1 4 0 R >>";
  return rawPdf(
    [
      "<< /Type /Catalog /Pages 2 0 R >>",
      "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
      `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << ${resources} >> /Contents 5 0 R >>`,
      options.font ?? HELVETICA,
      typeof content === "string" ? pdfStream(content) : content,
      ...(options.extraObjects ?? []),
    ],
    options.trailer,
  );
}

/** Text lines drawn with pdf-lib, one array of lines per page; `gapAfter` adds a paragraph gap after a line index. */
export async function textPdf(
  pages: readonly (readonly string[])[],
  gapAfter: readonly number[] = [],
): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  for (const lines of pages) {
    const page = doc.addPage([612, 792]);
    let y = 740;
    lines.forEach((line, i) => {
      page.drawText(line, { x: 72, y, size: 11, font });
      y -= gapAfter.includes(i) ? 34 : 14;
    });
  }
  return doc.save();
}

/** Text drawn with glyph names fi and fl, which pdf.js maps to the ligature characters U+FB01/U+FB02. */
export function ligaturePdf(): Uint8Array {
  const font =
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding << /Type /Encoding /BaseEncoding /WinAnsiEncoding /Differences [128 /fi 129 /fl] >> >>";
  return onePage("BT /F1 12 Tf 72 720 Td (We \\200nd the work\\201ow of \\200les \\201exible.) Tj ET", { font });
}

/** Japanese through a predefined CMap and a non-embedded font: needs pdf.js's bundled CMap files. */
export function japanesePdf(text: string): Uint8Array {
  const hex = Buffer.from(text, "utf16le").swap16().toString("hex");
  return rawPdf([
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 6 0 R >>",
    "<< /Type /Font /Subtype /Type0 /BaseFont /HeiseiMin-W3 /Encoding /UniJIS-UCS2-H /DescendantFonts [5 0 R] >>",
    "<< /Type /Font /Subtype /CIDFontType0 /BaseFont /HeiseiMin-W3 /CIDSystemInfo << /Registry (Adobe) /Ordering (Japan1) /Supplement 2 >> " +
      "/FontDescriptor << /Type /FontDescriptor /FontName /HeiseiMin-W3 /Flags 6 /FontBBox [0 -141 1000 859] /ItalicAngle 0 /Ascent 859 /Descent -141 /CapHeight 709 /StemV 69 >> >>",
    pdfStream(`BT /F1 12 Tf 72 720 Td <${hex}> Tj ET`),
  ]);
}

/** Pages that only paint an image: what a scanner produces. */
export function imageOnlyPdf(): Uint8Array {
  const image = pdfStream(
    Buffer.from([0, 255, 255, 0]),
    "/Type /XObject /Subtype /Image /Width 2 /Height 2 /ColorSpace /DeviceGray /BitsPerComponent 8",
  );
  return onePage("q 400 0 0 600 100 100 cm /Im1 Do Q", {
    resources: "/XObject << /Im1 6 0 R >>",
    extraObjects: [image],
  });
}

/**
 * A page tree that is a DAG: each level lists the same child ten times, so nine small objects
 * describe 10^9 pages that pdf.js accepts as real (every /Count is consistent).
 */
export function pageTreeBombPdf(levels = 9): Uint8Array {
  const objects: (string | Buffer)[] = ["<< /Type /Catalog /Pages 2 0 R >>"];
  for (let level = 0; level < levels; level++) {
    const me = 2 + level;
    const parent = level === 0 ? "" : `/Parent ${me - 1} 0 R `;
    const kids = Array.from({ length: 10 }, () => `${me + 1} 0 R`).join(" ");
    objects.push(`<< /Type /Pages ${parent}/Kids [${kids}] /Count ${10 ** (levels - level)} >>`);
  }
  const page = 2 + levels;
  objects.push(
    `<< /Type /Page /Parent ${page - 1} 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 ${page + 1} 0 R >> >> /Contents ${page + 2} 0 R >>`,
    HELVETICA,
    pdfStream("BT /F1 12 Tf 72 720 Td (One page, repeated a billion times.) Tj ET"),
  );
  return rawPdf(objects);
}

/** One real page under a page tree that claims 999,999,999 of them. */
export function lyingPageCountPdf(): Uint8Array {
  return rawPdf([
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 999999999 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
    HELVETICA,
    pdfStream("BT /F1 12 Tf 72 720 Td (The only page of a file that claims almost a billion.) Tj ET"),
  ]);
}

/**
 * A content stream that inflates to `totalMb` of spaces: 64 MiB of them compress to 64 KiB, and the
 * page lists that stream over and over. pdf.js buffers all of it while reading the page's text
 * (uncapped, the parser reaches over 2 GiB resident for 1.5 GiB).
 */
export function decompressionBombPdf(totalMb = 1536): Uint8Array {
  const chunk = flateStream(Buffer.alloc(64 * 1024 * 1024, 0x20));
  const copies = Math.ceil(totalMb / 64);
  const contents = Array.from({ length: copies }, () => "5 0 R").join(" ");
  return rawPdf([
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents [${contents} 6 0 R] >>`,
    HELVETICA,
    chunk,
    pdfStream("BT /F1 12 Tf 72 720 Td (Text after a very long run of spaces.) Tj ET"),
  ]);
}

// --- Standard security handler, revision 2 (RC4, 40-bit): the simplest encryption every reader supports.

const PASSWORD_PAD = Buffer.from("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A", "hex");
const md5 = (...parts: Buffer[]): Buffer => createHash("md5").update(Buffer.concat(parts)).digest();

function rc4(key: Buffer, data: Buffer): Buffer {
  const s = Array.from({ length: 256 }, (_, i) => i);
  let j = 0;
  for (let i = 0; i < 256; i++) {
    j = (j + (s[i] ?? 0) + (key[i % key.length] ?? 0)) & 255;
    [s[i], s[j]] = [s[j] ?? 0, s[i] ?? 0];
  }
  const out = Buffer.alloc(data.length);
  let a = 0;
  let b = 0;
  for (let n = 0; n < data.length; n++) {
    a = (a + 1) & 255;
    b = (b + (s[a] ?? 0)) & 255;
    [s[a], s[b]] = [s[b] ?? 0, s[a] ?? 0];
    out[n] = (data[n] ?? 0) ^ (s[((s[a] ?? 0) + (s[b] ?? 0)) & 255] ?? 0);
  }
  return out;
}

const padPassword = (password: string): Buffer => Buffer.concat([latin1(password), PASSWORD_PAD]).subarray(0, 32);

/**
 * One page of text encrypted with the given user password. An empty user password opens without
 * asking (the owner password only restricts permissions; /P -64 denies printing, editing and copying).
 */
export function encryptedPdf(userPassword: string, ownerPassword: string, text: string): Uint8Array {
  const id = Buffer.from("0123456789abcdef0123456789abcdef", "hex");
  const permissions = Buffer.alloc(4);
  permissions.writeInt32LE(-64);
  const owner = rc4(md5(padPassword(ownerPassword)).subarray(0, 5), padPassword(userPassword));
  const fileKey = md5(padPassword(userPassword), owner, permissions, id).subarray(0, 5);
  const user = rc4(fileKey, PASSWORD_PAD);
  const objectKey = (num: number) =>
    md5(fileKey, Buffer.from([num & 255, (num >> 8) & 255, (num >> 16) & 255, 0, 0])).subarray(0, 10);
  const content = rc4(objectKey(5), latin1(`BT /F1 12 Tf 72 720 Td (${text}) Tj ET`));
  const encrypt = `<< /Filter /Standard /V 1 /R 2 /O <${owner.toString("hex")}> /U <${user.toString("hex")}> /P -64 >>`;
  const fileId = `<${id.toString("hex")}>`;
  return onePage(pdfStream(content), { extraObjects: [encrypt], trailer: `/Encrypt 6 0 R /ID [${fileId} ${fileId}]` });
}

/** A long report: `pages` pages of a few distinct lines each, like a manual or a contract. */
export function longPdf(pages: number): Promise<Uint8Array> {
  return textPdf(
    Array.from({ length: pages }, (_, i) => [
      `Section ${i + 1}: the long report covers topic number ${i + 1} in some detail.`,
      `Clause ${i + 1}.1 sets out who is responsible and by when the work is due.`,
    ]),
  );
}

// --- Processes

/** Live processes whose parent is `pid` and whose command line mentions `needle`. */
export function childProcessesOf(pid: number, needle: string): number[] {
  if (!existsSync("/proc")) return [];
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const command = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (parent === pid && command.includes(needle)) found.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

export const hasPrlimit = (): boolean => spawnSync("prlimit", ["--version"]).status === 0;
export const hasProcfs = (): boolean => existsSync("/proc/self/status");

/**
 * Samples the parser pool while files are parsed: the most parsers alive or running at once, and
 * whether any file ever waited for one. Call the result to stop sampling and read it.
 */
export function watchParserPool(intervalMs = 5): () => { maxLive: number; sawQueue: boolean } {
  let maxLive = 0;
  let sawQueue = false;
  const probe = setInterval(() => {
    const stats = sandboxStats();
    maxLive = Math.max(maxLive, stats.live, stats.running);
    sawQueue ||= stats.queued > 0;
  }, intervalMs);
  return () => {
    clearInterval(probe);
    return { maxLive, sawQueue };
  };
}
