/**
 * `npm run demo`: the real server and Slack bot against the project's fake Slack, narrated. Two
 * organisations sign up, each installs the bot into its own workspace (OAuth), links it through the
 * one-time link, shares its documents and asks questions; then each asks about the other's documents
 * and gets nothing. Exits 1 if anything leaks across tenants or a step fails.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PDFDocument, StandardFonts } from "pdf-lib";
import { type FakeFile, FakeSlack, type FakeTeam, nextTs } from "../../test/support/fake-slack.js";
import { type ApiClient, apiClient } from "../../test/support/server.js";
import {
  blockAction,
  commandForm,
  fileEventEnvelope,
  mentionEnvelope,
  messageEnvelope,
  SlackSender,
  type Who,
} from "../../test/support/slack.js";
import { startServer } from "./server.js";

const SIGNING_SECRET = "demo-signing-secret-0123456789abcdef";
const PUBLIC_URL = "https://enclave.demo.example";
const docs = new URL("../../examples/documents/", import.meta.url);

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);
const say = (line = "") => process.stdout.write(`${line}\n`);
/** Display names for the fake workspaces' users and channels. */
const NAMES: Record<string, string> = {
  U0NADIA01: "nadia",
  U0DANA001: "dana",
  U0GUS0001: "gus",
  U0HANK001: "hank",
  C0NWGENRL: "general",
  C0NWITHLP: "it-help",
  C0GXSECUR: "security",
  C0GXGENRL: "general",
};
const at = (id: string) => `@${NAMES[id] ?? id}`;
const hash = (id: string) => `#${NAMES[id] ?? id}`;
const indent = (text: string, pad: string) =>
  text
    .split("\n")
    .map((l) => `${pad}${l}`)
    .join("\n");

/** Slack mrkdwn and Block Kit as a person would read them in the client. */
interface Block {
  type: string;
  text?: { text?: string };
  elements?: { text?: string | { text: string } }[];
}

interface AuditRow {
  created_at: string;
  surface: string;
  outcome: string;
  question: string;
  feedback: unknown;
  slack?: { team_id: string; channel_id?: string };
}

function readable(message: { text?: string; blocks?: Block[] } | undefined): string {
  if (!message) return "(nothing)";
  const decode = (s: string) =>
    s
      .replace(/<(https?:[^|>]+)\|([^>]+)>/g, "$2 ($1)")
      .replace(/<@([A-Z0-9]+)>/g, (_m, id: string) => at(id))
      .replace(/\*([^*\n]+)\*/g, "$1")
      .replace(/(^|\s)_([^_\n]+)_(?=\s|$)/g, "$1$2")
      .replace(/:mag: /g, "🔎 ")
      .replace(/:white_check_mark: /g, "✅ ")
      .replace(/:hourglass_flowing_sand: /g, "⏳ ")
      .replace(/:\+1:/g, "👍")
      .replace(/&lt;/g, "<")
      .replace(/&gt;/g, ">")
      .replace(/&amp;/g, "&");
  if (!message.blocks?.length) return decode(message.text ?? "");
  const lines: string[] = [];
  for (const block of message.blocks) {
    if (block.type === "section") lines.push(decode(block.text?.text ?? ""));
    else if (block.type === "context") lines.push(...(block.elements ?? []).map((e) => decode(String(e.text ?? ""))));
    else if (block.type === "actions")
      lines.push((block.elements ?? []).map((e) => `[${typeof e.text === "object" ? e.text.text : ""}]`).join(" "));
  }
  return lines.join("\n");
}

async function generatedPdf(title: string, paragraphs: string[]): Promise<Buffer> {
  const pdf = await PDFDocument.create();
  const font = await pdf.embedFont(StandardFonts.Helvetica);
  const page = pdf.addPage([595, 842]);
  let y = 790;
  page.drawText(title, { x: 50, y, size: 16, font });
  y -= 30;
  for (const paragraph of paragraphs) {
    // Naive wrapping is enough for a sample page.
    const words = paragraph.split(" ");
    let line = "";
    for (const word of words) {
      if (font.widthOfTextAtSize(`${line} ${word}`, 11) > 495) {
        page.drawText(line, { x: 50, y, size: 11, font });
        y -= 16;
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    page.drawText(line, { x: 50, y, size: 11, font });
    y -= 26;
  }
  return Buffer.from(await pdf.save());
}

class Demo {
  private failures: string[] = [];
  constructor(
    readonly fake: FakeSlack,
    readonly slack: SlackSender,
    readonly serverUrl: string,
  ) {}

  check(ok: boolean, what: string): void {
    say(`   ${ok ? "✓" : "✗"} ${what}`);
    if (!ok) this.failures.push(what);
  }

  get failed(): string[] {
    return this.failures;
  }

  async signUp(name: string, email: string): Promise<{ client: ApiClient; tenantId: string }> {
    const anon = apiClient(this.serverUrl);
    const password = "Demo-password-1";
    const signup = await anon.call("POST", "/auth/signup", { email, password, organization: name });
    if (signup.status !== 201) throw new Error(`sign-up failed: ${JSON.stringify(signup.json)}`);
    const login = await anon.call("POST", "/auth/login", { email, password });
    say(`   • ${bold(name)}: tenant ${signup.json.tenant.id}, admin ${email}`);
    return { client: apiClient(this.serverUrl, login.json.id_token), tenantId: signup.json.tenant.id };
  }

  /** What a browser does: /slack/install -> Slack's authorize page -> back to /slack/oauth_redirect. */
  async install(team: FakeTeam, installer: string): Promise<void> {
    this.fake.installingUser = installer;
    const start = await fetch(`${this.serverUrl}/slack/install`, { redirect: "manual" });
    const cookie = (start.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const authorize = new URL(start.headers.get("location") ?? "");
    authorize.searchParams.set("team", team.id);
    const approved = await fetch(authorize, { redirect: "manual" });
    const back = new URL(approved.headers.get("location") ?? "");
    const done = await fetch(`${this.serverUrl}/slack/oauth_redirect${back.search}`, { headers: { cookie } });
    const page = (await done.text()).replace(/<[^>]+>/g, " ").replace(/\s+/g, " ");
    say(
      `   • ${bold(team.name)} (${team.id}): ${at(installer)} clicks "Add to Slack" → ${done.status} "${page.match(/Enclave was added to [^.]+/)?.[0] ?? page.slice(0, 80)}"`,
    );
  }

  async linkFromDm(team: FakeTeam, installer: string, admin: ApiClient, adminName: string): Promise<void> {
    const welcome = await this.fake.waitFor(
      () =>
        this.fake
          .callsTo("chat.postMessage", team.id)
          .find((c) => c.params.channel === installer && JSON.stringify(c.params).includes("/link?token=")),
      10_000,
      "welcome DM",
    );
    say(`   ${dim(`[${team.name}] DM from Enclave to ${at(installer)}:`)}`);
    say(indent(readable(welcome.params).replace(/\?token=[^)\s]+/g, "?token=…"), "      "));
    const url = JSON.stringify(welcome.params).match(/"url":"([^"]+\/link\?token=[^"]+)"/)?.[1] ?? "";
    const token = new URL(url).searchParams.get("token") ?? "";
    const preview = await apiClient(this.serverUrl).call("POST", "/api/links/preview", { token });
    say(
      `   ${dim(`The link page previews it: workspace ${preview.json.team_name} (${preview.json.team_id}), for ${at(preview.json.slack_user_id)}, expires ${preview.json.expires_at}`)}`,
    );
    const linked = await admin.call("POST", "/api/links", { token });
    say(
      `   ${adminName} (admin) logs in and confirms: POST /api/links → ${linked.status} ${JSON.stringify(linked.json)}`,
    );
    const replay = await admin.call("POST", "/api/links", { token });
    say(`   ${dim(`The same link again → ${replay.status} (${replay.json.error?.message})`)}`);
    const confirm = await this.fake.waitFor(
      () =>
        this.fake
          .callsTo("chat.postMessage", team.id)
          .find((c) => c.params.channel === installer && /now linked/.test(c.params.text ?? "")),
      10_000,
      "confirmation",
    );
    say(`   ${dim(`[${team.name}] Enclave → ${at(installer)}:`)} ${readable({ text: confirm.params.text })}`);
  }

  async share(
    team: FakeTeam,
    who: Who,
    channel: string,
    name: string,
    content: Buffer,
    type: [string, string],
  ): Promise<FakeFile> {
    const file = this.fake.addFile({
      id: `F0${team.id.slice(2, 7)}${name.length}`,
      teamId: team.id,
      name,
      content,
      mimetype: type[0],
      filetype: type[1],
      user: who.userId,
      channel,
    });
    say(
      `   ${dim(`[${team.name}] ${hash(channel)}`)} ${at(who.userId)} shares ${bold(name)} (${content.length} bytes)`,
    );
    await this.slack.event(fileEventEnvelope(who, { type: "file_shared", fileId: file.id, channel }));
    const reply = await this.fake.waitFor(
      () =>
        this.fake
          .callsTo("chat.postMessage", team.id)
          .find((c) => c.params.thread_ts === file.ts && /^(Indexed|I couldn't)/.test(c.params.text ?? "")),
      60_000,
      `indexing ${name}`,
    );
    say(`     Enclave (in the thread): ${reply.params.text}`);
    return file;
  }

  async command(team: FakeTeam, who: Who, channel: string, text: string): Promise<string> {
    const responseUrl = this.fake.responseUrl();
    say();
    say(`   ${dim(`[${team.name}] ${hash(channel)}`)} ${at(who.userId)}: ${bold(`/ask ${text}`)}`);
    const ack = await this.slack.command(commandForm(who, { text, channel, responseUrl }));
    say(`     ${dim(`(acknowledged in ${Math.round(ack.ms)} ms: "${readable({ text: ack.json?.text ?? "" })}")`)}`);
    const reply = await this.fake.waitFor(() => this.fake.responsesTo(responseUrl)[0], 20_000, "answer");
    say("     Enclave (only visible to you):");
    const text2 = readable(reply.body);
    say(indent(text2, "       "));
    return text2;
  }

  async mention(team: FakeTeam, who: Who, channel: string, question: string): Promise<string> {
    const ts = nextTs();
    say();
    say(`   ${dim(`[${team.name}] ${hash(channel)}`)} ${at(who.userId)}: ${bold(`@Enclave ${question}`)}`);
    this.fake.addUserMessage(team.id, { channel, user: who.userId, text: `<@${team.botUserId}> ${question}`, ts });
    await this.slack.event(mentionEnvelope(who, { channel, text: `<@${team.botUserId}> ${question}`, ts }));
    return this.threadAnswer(team, channel, ts, "Enclave (in the thread, for the channel):");
  }

  async dm(team: FakeTeam, who: Who, question: string): Promise<string> {
    const ts = nextTs();
    const channel = `D${who.userId.slice(1)}`;
    say();
    say(`   ${dim(`[${team.name}] DM`)} ${at(who.userId)} → Enclave: ${bold(question)}`);
    await this.slack.event(messageEnvelope(who, { channel, text: question, ts }));
    return this.threadAnswer(team, channel, ts, "Enclave (DM, in the thread of the question):");
  }

  /** The answer streamed into the thread: its markdown, then the sources and buttons it ended with. */
  private async threadAnswer(team: FakeTeam, channel: string, threadTs: string, label: string): Promise<string> {
    const message = await this.fake.waitFor(
      () =>
        this.fake
          .botMessages(channel, threadTs, team.id)
          .find((m) => (m.stream ? m.stream.state === "stopped" : !/Searching/.test(m.text))),
      20_000,
      "answer",
    );
    say(
      `     ${label} ${dim(message.stream ? "(streamed as it was written)" : '(replaced "Searching your documents…")')}`,
    );
    const text = [
      ...(message.stream ? [message.stream.markdown.replaceAll("\u2060", "")] : []),
      readable({ ...(message.stream ? {} : { text: message.text }), blocks: (message.blocks ?? []) as Block[] }),
    ].join("\n");
    say(indent(text, "       "));
    return text;
  }

  async feedback(who: Who, channel: string, auditId: string): Promise<void> {
    const responseUrl = this.fake.responseUrl();
    await this.slack.action(
      blockAction(who, { actionId: "enclave_feedback_up", value: auditId, channel, responseUrl }),
    );
    const thanks = await this.fake.waitFor(() => this.fake.responsesTo(responseUrl)[0], 10_000, "feedback");
    say(`   ${at(who.userId)} clicks 👍 → Enclave (only visible to you): ${readable(thanks.body)}`);
  }
}

async function main(): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), "enclave-demo-"));
  const fake = await FakeSlack.start();
  const northwind = fake.addTeam({
    id: "T0NORTHWND",
    name: "Northwind Traders",
    users: [
      { id: "U0NADIA01", name: "nadia", isAdmin: true },
      { id: "U0DANA001", name: "dana" },
    ],
  });
  const globex = fake.addTeam({
    id: "T0GLOBEX01",
    name: "Globex Corporation",
    users: [
      { id: "U0GUS0001", name: "gus", isAdmin: true },
      { id: "U0HANK001", name: "hank" },
    ],
  });
  const server = await startServer({
    DATA_DIR: dataDir,
    HOST: "127.0.0.1",
    PORT: "0",
    LOG_LEVEL: "error",
    PUBLIC_URL,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_CLIENT_ID: fake.clientId,
    SLACK_CLIENT_SECRET: fake.clientSecret,
    SLACK_STATE_SECRET: "demo-state-secret-0123456789",
    SLACK_API_URL: fake.apiUrl,
  });
  const demo = new Demo(fake, new SlackSender(server.url, SIGNING_SECRET), server.url);
  const nadia: Who = { teamId: northwind.id, userId: "U0NADIA01", botUserId: northwind.botUserId };
  const dana: Who = { teamId: northwind.id, userId: "U0DANA001", botUserId: northwind.botUserId };
  const gus: Who = { teamId: globex.id, userId: "U0GUS0001", botUserId: globex.botUserId };
  const hank: Who = { teamId: globex.id, userId: "U0HANK001", botUserId: globex.botUserId };
  try {
    say(bold("Enclave demo: the real server and Slack bot against a fake Slack"));
    say(dim(`server ${server.url}, fake Slack ${fake.url} (SLACK_API_URL=${fake.apiUrl}), data in ${dataDir}`));
    say();
    say(bold("1. Two organisations sign up on the web"));
    const north = await demo.signUp("Northwind", "nadia@northwind.example");
    const glob = await demo.signUp("Globex", "gus@globex.example");

    say();
    say(bold("2. Each installs Enclave into its own Slack workspace (OAuth)"));
    await demo.install(northwind, "U0NADIA01");
    await demo.install(globex, "U0GUS0001");

    say();
    say(bold("3. Each workspace is linked to its organisation with a one-time link"));
    await demo.linkFromDm(northwind, "U0NADIA01", north.client, "Nadia");
    say();
    await demo.linkFromDm(globex, "U0GUS0001", glob.client, "Gus");

    say();
    say(bold("4. Members share documents in Slack"));
    await demo.share(
      northwind,
      nadia,
      "C0NWGENRL",
      "northwind-employee-handbook.md",
      readFileSync(new URL("northwind-employee-handbook.md", docs)),
      ["text/markdown", "markdown"],
    );
    await demo.share(
      northwind,
      dana,
      "C0NWITHLP",
      "northwind-it-equipment-faq.md",
      readFileSync(new URL("northwind-it-equipment-faq.md", docs)),
      ["text/markdown", "markdown"],
    );
    await demo.share(
      globex,
      gus,
      "C0GXSECUR",
      "globex-security-runbook.txt",
      readFileSync(new URL("globex-security-runbook.txt", docs)),
      ["text/plain", "text"],
    );
    const visitorPdf = await generatedPdf("Globex Visitor Policy", [
      "Visitors to Globex offices must be registered in the Gatehouse system by their host at least one working day before the visit.",
      "Every visitor wears a yellow badge and is escorted by their host at all times; visitors may never enter the server rooms.",
      "Laptops brought by visitors connect only to the guest network named GLOBEX-GUEST.",
    ]);
    await demo.share(globex, hank, "C0GXGENRL", "globex-visitor-policy.pdf", visitorPdf, ["application/pdf", "pdf"]);

    say();
    say(bold("5. Questions, answered from each organisation's own documents, with sources"));
    const a1 = await demo.command(
      northwind,
      dana,
      "C0NWGENRL",
      "What paid vacation do full-time employees receive per calendar year?",
    );
    demo.check(a1.includes("27 days") && /Sources?/.test(a1), "Northwind's answer cites its handbook");
    const auditId = (await north.client.call("GET", "/api/audit?limit=1")).json.records[0]?.id as string;
    await demo.feedback(dana, "C0NWGENRL", auditId);
    const a2 = await demo.mention(northwind, nadia, "C0NWITHLP", "Which VPN client do I use to connect from home?");
    demo.check(/Tunnelbird/.test(a2), "A channel mention is answered in its thread");
    const a3 = await demo.mention(globex, gus, "C0GXSECUR", "Who pages the incident commander for a SEV1?");
    demo.check(a3.includes("Beacon"), "Globex's answer cites its runbook");
    const a4 = await demo.dm(globex, hank, "Which network do visitor laptops connect to?");
    demo.check(a4.includes("GLOBEX-GUEST") && /page 1/.test(a4), "A DM is answered from the shared PDF, with its page");

    say();
    say(bold("6. Tenant isolation: each asks about the other's documents"));
    const x1 = await demo.mention(
      globex,
      gus,
      "C0GXSECUR",
      "What paid vacation do full-time employees receive per calendar year?",
    );
    demo.check(/couldn't find/.test(x1) && !/27 days|handbook/i.test(x1), "Globex cannot see Northwind's handbook");
    const x2 = await demo.command(northwind, dana, "C0NWGENRL", "Who pages the incident commander for a SEV1?");
    demo.check(/couldn't find/.test(x2) && !/Beacon|runbook/i.test(x2), "Northwind cannot see Globex's runbook");

    say();
    say(bold("7. The audit log, per organisation (GET /api/audit)"));
    for (const [name, org] of [
      ["Northwind", north],
      ["Globex", glob],
    ] as const) {
      const records = (await org.client.call("GET", "/api/audit?limit=50")).json.records as AuditRow[];
      say(`   ${bold(name)}: ${records.length} exchanges`);
      for (const r of records.reverse()) {
        say(
          `     ${r.created_at.slice(11, 19)} ${r.surface.padEnd(13)} ${r.slack?.team_id} ${(r.slack?.channel_id?.startsWith("D") ? "DM" : hash(r.slack?.channel_id ?? "")).padEnd(10)} ${r.outcome.padEnd(10)} ${r.feedback ? `👍 ` : ""}“${r.question}”`,
        );
      }
      demo.check(
        records.every((r) => r.slack?.team_id === (name === "Northwind" ? northwind.id : globex.id)),
        `${name}'s audit holds only its own workspace's exchanges`,
      );
    }
    say();
    if (demo.failed.length) {
      say(bold(`Demo FAILED: ${demo.failed.join("; ")}`));
      return 1;
    }
    say(bold("Demo finished: every check passed."));
    return 0;
  } finally {
    await server.stop();
    await fake.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`Demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
