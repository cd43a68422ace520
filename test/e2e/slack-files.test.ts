import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { PDFDocument, StandardFonts } from "pdf-lib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeFile, FakeSlack, type FakeTeam, nextTs } from "../support/fake-slack.js";
import { newOrganisation } from "../support/server.js";
import { commandForm, fileEventEnvelope, fileShareEnvelope, mentionEnvelope } from "../support/slack.js";
import {
  linkOverHttp,
  type SlackHarness,
  settle,
  startSlackHarness,
  visible,
  waitForReply,
  whoIn,
} from "../support/slack-harness.js";

const PDFS = resolve(process.cwd(), "../shared/data/pdfs");
const hasPdfs = existsSync(join(PDFS, "crazyones-pdfa.pdf"));
if (!hasPdfs)
  console.warn(
    "../shared/data/pdfs is absent: skipping the Slack tests with real-world PDFs (a generated PDF still runs).",
  );

const MAX_BYTES = 2_000_000;
const CHANNEL = "C0DOCS001";
const SHARER = "U0SHARER1";

let h: SlackHarness;
let team: FakeTeam;
let org: Awaited<ReturnType<typeof newOrganisation>>;
const sharer = () => whoIn(team, SHARER);
let fileCounter = 0;

beforeAll(async () => {
  h = await startSlackHarness(
    (fake) => {
      // The sharer is a Slack workspace admin, so they can link the workspace too.
      team = fake.addTeam({
        id: "T0FILES01",
        name: "Files Inc",
        users: [{ id: SHARER, name: "sharer", isAdmin: true }],
      });
      return { SLACK_BOT_TOKEN: team.botToken };
    },
    { MAX_FILE_BYTES: String(MAX_BYTES) },
  );
  org = await newOrganisation(h.server.url, "Files Inc");
});

afterAll(async () => {
  await h?.stop();
});

function addFile(name: string, content: Buffer, extra: Partial<FakeFile> = {}): FakeFile {
  fileCounter++;
  const ext = name.split(".").pop() ?? "";
  const types: Record<string, [string, string]> = {
    pdf: ["application/pdf", "pdf"],
    md: ["text/markdown", "markdown"],
    txt: ["text/plain", "text"],
    png: ["image/png", "png"],
  };
  const [mimetype, filetype] = types[ext] ?? ["application/octet-stream", "binary"];
  return h.fake.addFile({
    id: `F0FILE${String(fileCounter).padStart(4, "0")}`,
    teamId: team.id,
    name,
    content,
    mimetype,
    filetype,
    user: SHARER,
    channel: CHANNEL,
    ...extra,
  });
}

async function share(file: FakeFile): Promise<void> {
  const res = await h.slack.event(
    fileEventEnvelope(sharer(), { type: "file_shared", fileId: file.id, channel: file.channel }),
  );
  expect(res.status).toBe(200);
}

/** The bot's reply in the thread of the message that shared the file. */
function replyTo(file: FakeFile, pattern: RegExp, timeoutMs = 30_000) {
  return h.fake.waitFor(
    () =>
      h.fake
        .callsTo("chat.postMessage")
        .find(
          (c) =>
            c.params.channel === file.channel && c.params.thread_ts === file.ts && pattern.test(c.params.text ?? ""),
        ),
    timeoutMs,
    `reply ${pattern} for ${file.name}`,
  );
}

async function ask(question: string): Promise<string> {
  const ts = nextTs();
  await h.slack.event(mentionEnvelope(sharer(), { channel: CHANNEL, text: `<@${team.botUserId}> ${question}`, ts }));
  const answer = await waitForReply(h.fake, { channel: CHANNEL, threadTs: ts }, undefined, 15_000);
  return visible(FakeSlack.textOf(answer));
}

async function generatedPdf(lines: string[]): Promise<Buffer> {
  const pdf = await PDFDocument.create();
  const font = await pdf.embedFont(StandardFonts.Helvetica);
  const page = pdf.addPage([595, 842]);
  for (const [i, line] of lines.entries()) page.drawText(line, { x: 50, y: 780 - i * 18, size: 11, font });
  return Buffer.from(await pdf.save());
}

describe("files in an unlinked workspace", () => {
  it("tells the sharer, ephemerally, to link the workspace first", async () => {
    const file = addFile("early.txt", Buffer.from("Shared before the workspace was linked."));
    await share(file);
    const notice = await h.fake.waitFor(
      () => h.fake.callsTo("chat.postEphemeral").find((c) => c.params.user === SHARER),
      10_000,
      "notice",
    );
    expect(notice.params.text).toMatch(/I can't index early yet/);
    expect(notice.params.thread_ts).toBe(file.ts);
    expect(h.fake.downloads).toEqual([]);
  });

  it("links", async () => {
    await linkOverHttp(h, sharer(), org.client, CHANNEL);
  });
});

describe("sharing files", () => {
  it("indexes a .md shared in a channel, replies in the sharing thread, and cites it with a link to the Slack file", async () => {
    const file = addFile(
      "cafeteria-rules.md",
      Buffer.from("# Cafeteria rules\n\nThe Files Inc cafeteria serves pistachio gelato every Friday afternoon.\n"),
    );
    await share(file);
    const reply = await replyTo(file, /^Indexed /);
    expect(reply.params.text).toMatch(/^Indexed cafeteria-rules: 1 page, 1 passage$/);
    // While it was indexed, the sharer saw that it was under way, in the same thread.
    const note = h.fake
      .callsTo("chat.postEphemeral")
      .find((c) => c.params.thread_ts === file.ts && /Indexing cafeteria-rules/.test(FakeSlack.textOf(c.params)));
    expect(note?.params).toMatchObject({ user: SHARER });
    expect(note?.at ?? Infinity).toBeLessThanOrEqual(reply.at);
    // Downloaded with the bot token, following the redirect with it (same Slack host).
    const hops = h.fake.downloads.filter((d) => d.path.includes(file.id) || d.path.startsWith("/files-tmp/"));
    expect(hops.map((d) => d.authorization)).toEqual([`Bearer ${team.botToken}`, `Bearer ${team.botToken}`]);
    const answer = await ask("When does the cafeteria serve pistachio gelato?");
    expect(answer).toContain("Friday");
    expect(answer).toMatch(
      new RegExp(
        `<https://files-inc\\.slack\\.com/files/${SHARER}/${file.id}/cafeteria-rules\\.md\\|cafeteria-rules>, page 1`,
      ),
    );
    const docs = await org.client.call("GET", "/api/documents");
    expect(docs.json.documents.find((d: { title: string }) => d.title === "cafeteria-rules")).toMatchObject({
      status: "ready",
      source: "slack",
    });
  });

  it("indexes a generated PDF", async () => {
    const file = addFile(
      "travel-portal.pdf",
      await generatedPdf([
        "Files Inc travel rules.",
        "All flights are booked through the Kestrel travel portal at least two weeks ahead.",
      ]),
    );
    await share(file);
    const reply = await replyTo(file, /^(Indexed|I couldn't index)/);
    expect(reply.params.text).toMatch(/^Indexed travel-portal: 1 page, 1 passage$/);
    expect(await ask("Which travel portal books the flights?")).toContain("Kestrel");
  });

  it.skipIf(!hasPdfs)(
    "indexes a real PDF, and explains why a scanned or password-protected one cannot be",
    async () => {
      const real = addFile("crazyones-pdfa.pdf", readFileSync(join(PDFS, "crazyones-pdfa.pdf")), {
        title: "The Crazy Ones",
      });
      await share(real);
      const ok = await replyTo(real, /^(Indexed|I couldn't index)/, 45_000);
      expect(ok.params.text).toMatch(/^Indexed The Crazy Ones: 1 page, \d+ passages?$/);
      const answer = await ask("Here's to the crazy ones, the misfits and the rebels?");
      expect(answer).toMatch(/Heres to the crazy ones/i);
      expect(answer).toMatch(/<https:\/\/[^|]+crazyones-pdfa\.pdf\|The Crazy Ones>, page 1/);

      const scanned = addFile("inspection.pdf", readFileSync(join(PDFS, "issue7229.pdf")));
      const locked = addFile("locked.pdf", readFileSync(join(PDFS, "libreoffice-writer-password.pdf")));
      await share(scanned);
      await share(locked);
      const scannedReply = await replyTo(scanned, /^(Indexed|I couldn't index)/, 45_000);
      expect(scannedReply.params.text).toMatch(/^I couldn't index inspection: .*(text|scan)/i);
      const lockedReply = await replyTo(locked, /^(Indexed|I couldn't index)/, 45_000);
      expect(lockedReply.params.text).toMatch(/^I couldn't index locked: .*(password|encrypt)/i);
    },
  );

  it("refuses an unsupported type and an oversized file from files.info, without downloading them", async () => {
    const downloads = h.fake.downloads.length;
    const png = addFile("diagram.png", Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), {
      prettyType: "PNG",
    });
    await share(png);
    expect((await replyTo(png, /couldn't index/)).params.text).toBe(
      "I couldn't index diagram.png: PNG files are not supported. Share a PDF, .txt or .md file.",
    );
    const big = addFile("huge.txt", Buffer.alloc(MAX_BYTES + 1, "a"));
    await share(big);
    expect((await replyTo(big, /couldn't index/)).params.text).toMatch(
      /^I couldn't index huge: it is larger than the 2 MB limit\.$/,
    );
    expect(h.fake.downloads.length).toBe(downloads);
  });

  it("does not follow a download redirect to a host that is not one of Slack's file hosts, and says why", async () => {
    const file = addFile("cdn-hosted.txt", Buffer.from("The Files Inc rooftop garden grows saffron crocuses."), {
      redirect: "foreign-host",
    });
    await share(file);
    const reply = await replyTo(file, /^I couldn't index cdn-hosted/);
    expect(reply.params.text).toBe(
      `I couldn't index cdn-hosted: the download was redirected to ${new URL(h.fake.cdnUrl).host}, which is a local or private network address, not one of Slack's file hosts, so I didn't download it.`,
    );
    // Nothing at all went to the other host, the bot token least of all.
    expect(h.fake.downloads.filter((d) => d.host.startsWith("localhost"))).toEqual([]);
  });

  it("handles a file sent in a DM once, although it arrives as a message and as file_shared", async () => {
    const dm = "D0SHARER1";
    const file = addFile("dm-note.txt", Buffer.from("The Files Inc parking garage closes at midnight on weekdays."), {
      channel: dm,
    });
    const message = fileShareEnvelope(sharer(), { channel: dm, ts: file.ts, file: h.fake.fileJson(file) });
    await h.slack.event(message);
    await h.slack.event(fileEventEnvelope(sharer(), { type: "file_shared", fileId: file.id, channel: dm }));
    await h.slack.event(message, { retryNum: 1 });
    await replyTo(file, /^Indexed dm-note/);
    await settle(h);
    expect(h.fake.callsTo("files.info").filter((c) => c.params.file === file.id)).toHaveLength(1);
    expect(h.fake.callsTo("chat.postMessage").filter((c) => c.params.thread_ts === file.ts)).toHaveLength(1);
  });

  it("says so when the same file is shared again", async () => {
    const content = Buffer.from("The Files Inc library lends umbrellas on rainy days.");
    const first = addFile("umbrellas.txt", content);
    await share(first);
    await replyTo(first, /^Indexed umbrellas/);
    const again = addFile("umbrellas-copy.txt", content);
    await share(again);
    expect((await replyTo(again, /already/)).params.text).toMatch(
      /^I already know this document as umbrellas: 1 page, 1 passage\.$/,
    );
  });
});

describe("changes and deletions", () => {
  let file: FakeFile;

  it("re-indexes a changed file", async () => {
    file = addFile("opening-hours.txt", Buffer.from("The Files Inc museum opens at nine o'clock on Sundays."));
    await share(file);
    await replyTo(file, /^Indexed opening-hours/);
    expect(await ask("When does the museum open on Sundays?")).toContain("nine");
    file.content = Buffer.from("The Files Inc museum opens at eleven o'clock on Sundays.");
    await h.slack.event(fileEventEnvelope(sharer(), { type: "file_change", fileId: file.id }));
    await h.fake.waitFor(
      () =>
        h.fake
          .callsTo("chat.postMessage")
          .filter((c) => c.params.thread_ts === file.ts && /^Indexed opening-hours/.test(c.params.text)).length === 2,
      20_000,
      "re-indexed",
    );
    const answer = await ask("When does the museum open on Sundays?");
    expect(answer).toContain("eleven");
    expect(answer).not.toContain("nine");
  });

  it("removes a deleted file from answers and from /ask docs", async () => {
    await h.slack.event(fileEventEnvelope(sharer(), { type: "file_deleted", fileId: file.id, channel: CHANNEL }));
    await settle(h);
    expect(await ask("When does the museum open on Sundays?")).toMatch(/couldn't find/);
    const url = h.fake.responseUrl();
    await h.slack.command(commandForm(sharer(), { text: "docs", channel: CHANNEL, responseUrl: url }));
    const docs = await h.fake.waitFor(() => h.fake.responsesTo(url)[0], 10_000, "docs");
    expect(docs.body.text).not.toContain("opening-hours");
    expect(docs.body.text).toContain("cafeteria-rules");
  });

  it("/ask forget removes a document the user shared", async () => {
    const url = h.fake.responseUrl();
    await h.slack.command(commandForm(sharer(), { text: "forget umbrellas", channel: CHANNEL, responseUrl: url }));
    expect((await h.fake.waitFor(() => h.fake.responsesTo(url)[0], 10_000, "forget")).body.text).toMatch(
      /^Forgotten: “umbrellas”/,
    );
    expect(await ask("Does the library lend umbrellas on rainy days?")).toMatch(/couldn't find/);
  });
});
