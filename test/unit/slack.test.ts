import { describe, expect, it } from "vitest";
import { JsonLogger } from "../../src/adapters/local/json-logger.js";
import { MemoryRateLimiter } from "../../src/adapters/local/memory-rate-limiter.js";
import type { Actor } from "../../src/domain/access.js";
import type { Source } from "../../src/domain/audit.js";
import { scrubSecrets } from "../../src/domain/redact.js";
import type { TenantId } from "../../src/domain/tenant.js";
import type { SlackDirectory, SlackUserInfo } from "../../src/ports/slack-directory.js";
import type { TenantDirectory, WorkspaceLink } from "../../src/ports/tenant-directory.js";
import { LinkService } from "../../src/services/link-workspace.js";
import {
  BLOCKS_LIMIT,
  escapeText,
  neutralizeMarkdown,
  renderAnswer,
  renderAnswerFooter,
  SECTION_LIMIT,
  splitText,
  withoutJoiners,
} from "../../src/slack/blocks.js";
import { BoltLoggerAdapter } from "../../src/slack/bolt-logger.js";
import { isTokenHost } from "../../src/slack/file-hosts.js";
import { cleanQuestion } from "../../src/slack/handlers/question.js";
import { SlackIntake } from "../../src/slack/jobs.js";
import { parseCommandText } from "../../src/slack/listeners/commands.js";

const source = (n: number, extra: Partial<Source> = {}): Source => ({
  n,
  documentId: `d${n}`,
  title: `Doc ${n}`,
  page: n,
  snippet: `snippet ${n}`,
  score: 1,
  ...extra,
});

describe("Block Kit rendering", () => {
  it("splits long answers at 3,000 characters a section, on word boundaries", () => {
    const words = Array.from({ length: 2500 }, (_, i) => `word${i}`).join(" ");
    const pieces = splitText(words);
    expect(pieces.length).toBeGreaterThan(5);
    for (const p of pieces) expect(p.length).toBeLessThanOrEqual(SECTION_LIMIT);
    expect(pieces.join(" ")).toBe(words);
    const [message] = renderAnswer({ answer: words, sources: [], outcome: "answered", auditId: "a1" });
    for (const block of message?.blocks ?? []) {
      if (block.type === "section") expect((block.text?.text ?? "").length).toBeLessThanOrEqual(SECTION_LIMIT);
    }
  });

  it("never cuts an escape in half", () => {
    const text = `${"x".repeat(2997)}&amp;${"y".repeat(10)}`;
    const [first] = splitText(text);
    expect(first?.endsWith("&")).toBe(false);
    expect(splitText(text).join("")).toBe(text);
  });

  it("spreads very long answers over several messages of at most 50 blocks, buttons on the last", () => {
    const answer = Array.from({ length: 60 }, (_, i) => `${"paragraph ".repeat(290)}${i}`).join("\n\n");
    const messages = renderAnswer({
      answer,
      sources: Array.from({ length: 8 }, (_, i) => source(i + 1)),
      outcome: "answered",
      auditId: "a1",
      shareable: true,
    });
    expect(messages.length).toBeGreaterThan(1);
    for (const m of messages) expect(m.blocks?.length).toBeLessThanOrEqual(BLOCKS_LIMIT);
    const actions = messages.flatMap((m, i) => (m.blocks ?? []).filter((b) => b.type === "actions").map(() => i));
    expect(actions).toEqual([messages.length - 1]);
  });

  it("shows document text as the characters it is: no ping, no link, no formatting of its own", () => {
    const hostile =
      "Ping <!channel> and <@U123> & click <https://evil.example|here> or https://evil.example, *act now*";
    const [m] = renderAnswer({
      answer: hostile,
      question: "Who is <!here>?",
      sources: [
        source(1, {
          title: "<!here> *title*",
          link: "https://x.slack.com/files/U1/F1/a.pdf",
          snippet: "<@U9> *pay* now",
        }),
        source(2, { link: "javascript:alert(1)" }),
        source(3, { link: "https://a.example/x|y" }),
      ],
      outcome: "answered",
      auditId: "a1",
    });
    const blocks = m?.blocks ?? [];
    // The answer is plain text: Slack parses no mrkdwn, mention or link in it.
    expect(blocks[1]).toEqual({ type: "section", text: { type: "plain_text", text: hostile, emoji: false } });
    // The question echoed is escaped mrkdwn that Slack may not auto-link.
    expect(blocks[0]).toMatchObject({ type: "context", elements: [{ type: "mrkdwn", verbatim: true }] });
    expect(JSON.stringify(blocks[0])).toContain("&lt;!here&gt;");
    // Sources are rich text: literal text elements, the only link the file's permalink, the passage a quote.
    const sources = blocks.filter((b) => b.type === "rich_text");
    expect(sources).toHaveLength(3);
    expect(sources[0]).toEqual({
      type: "rich_text",
      elements: [
        {
          type: "rich_text_section",
          elements: [
            { type: "text", text: "[1]", style: { bold: true } },
            { type: "text", text: " " },
            { type: "link", url: "https://x.slack.com/files/U1/F1/a.pdf", text: "<!here> *title*" },
            { type: "text", text: ", page 1" },
          ],
        },
        { type: "rich_text_quote", elements: [{ type: "text", text: "<@U9> *pay* now" }] },
      ],
    });
    const links = JSON.stringify(sources).match(/"url":"[^"]*"/g);
    expect(links).toEqual(['"url":"https://x.slack.com/files/U1/F1/a.pdf"']);
    // No mrkdwn text anywhere holds a raw mention or link; the fallback text is escaped.
    const mrkdwn = JSON.stringify(
      blocks.flatMap((b) => JSON.stringify(b).match(/"type":"mrkdwn","text":"[^"]*"/g) ?? []),
    );
    expect(mrkdwn).not.toMatch(/<!|<@|<https/);
    expect(m?.text).not.toMatch(/<!|<@|<https/);
    expect(m?.text).toContain("&lt;!channel&gt;");
    expect(JSON.stringify(m)).not.toContain("javascript:");
    expect(escapeText("a & b")).toBe("a &amp; b");
  });

  it("puts the note as a context line between the answer and the sources, streamed or not", () => {
    const view = {
      answer: "Quoted [1]",
      note: "No language model is configured <here>",
      sources: [source(1)],
      outcome: "answered" as const,
      auditId: "a1",
    };
    const [m] = renderAnswer(view);
    expect(m?.blocks?.map((b) => b.type)).toEqual(["section", "context", "divider", "context", "rich_text", "actions"]);
    expect(JSON.stringify(m?.blocks?.[1])).toContain("No language model is configured &lt;here&gt;");
    // After a streamed answer text: the same blocks without the answer's sections.
    const [footer] = renderAnswerFooter(view);
    expect(footer?.blocks).toEqual(m?.blocks?.slice(1));
    expect(renderAnswer({ ...view, note: undefined })[0]?.blocks?.map((b) => b.type)).toEqual([
      "section",
      "divider",
      "context",
      "rich_text",
      "actions",
    ]);
  });

  it("gives a streamed answer with too many sources for one message the rest in more messages, buttons last", () => {
    const messages = renderAnswerFooter({
      answer: "x",
      sources: Array.from({ length: 60 }, (_, i) => source(i + 1)),
      outcome: "answered",
      auditId: "a1",
    });
    expect(messages).toHaveLength(2);
    for (const m of messages) expect(m.blocks?.length).toBeLessThanOrEqual(BLOCKS_LIMIT);
    expect(messages[1]?.blocks?.at(-1)?.type).toBe("actions");
    expect(renderAnswerFooter({ answer: "x", sources: [], outcome: "no_context", auditId: "a2" })).toEqual([
      { text: "x", blocks: [expect.objectContaining({ type: "actions" })] },
    ]);
  });

  it("keeps streamed markdown from mentioning anyone or linking anywhere, however it is cut, and reads the same", () => {
    const hostile =
      "Hi <!channel> <!here> <@U123> <#C1> <!subteam^S1> <https://evil.example|safe> <https://evil.example> [safe](https://evil.example) ![i](https://evil.example/i.png) [1][2] [1]: https://evil.example &lt;!channel&gt; &#60;";
    for (const size of [1, 2, 3, 5, hostile.length]) {
      let streamed = "";
      let raw = "";
      for (let i = 0; i < hostile.length; i += size) {
        const piece = hostile.slice(i, i + size);
        streamed += neutralizeMarkdown(piece, raw);
        raw += piece;
      }
      for (const inert of ["<!", "<@", "<#", "<h", "](", "][", "]:", "&l", "&#"])
        expect(streamed, `${size}`).not.toContain(inert);
      expect(withoutJoiners(streamed)).toBe(hostile);
    }
    expect(neutralizeMarkdown("27 days of paid vacation [1].")).toBe("27 days of paid vacation [1].");
  });
});

describe("reading what users send", () => {
  it("tells /ask sub-commands from questions", () => {
    expect(parseCommandText("")).toEqual({ action: "help" });
    expect(parseCommandText("help")).toEqual({ action: "help" });
    expect(parseCommandText("docs")).toEqual({ action: "docs", arg: "" });
    expect(parseCommandText("Documents")).toEqual({ action: "docs", arg: "" });
    expect(parseCommandText("forget Employee Handbook")).toEqual({ action: "forget", arg: "Employee Handbook" });
    expect(parseCommandText("status")).toEqual({ action: "status", arg: "" });
    expect(parseCommandText("status of the SEV1 review?")).toEqual({
      action: "question",
      question: "status of the SEV1 review?",
    });
    expect(parseCommandText("  link ")).toEqual({ action: "link", arg: "" });
  });

  it("removes the bot's mention and decodes Slack's escapes", () => {
    expect(cleanQuestion("<@UBOT> how many days &amp; weeks?", "UBOT")).toBe("how many days & weeks?");
    expect(cleanQuestion("<@UBOT|enclave> ask <@UOTHER> about <#C1|travel>", "UBOT")).toBe(
      "ask <@UOTHER> about #travel",
    );
    expect(cleanQuestion("see <https://x.example|the page>", "UBOT")).toBe("see the page");
    // A streamed answer read back as a thread's earlier turn.
    expect(cleanQuestion(neutralizeMarkdown("a <b> & [1](c)"), "UBOT")).toBe("a <b> & [1](c)");
  });
});

describe("file download hosts", () => {
  const api = { apiUrl: "http://127.0.0.1:4000/api/" };
  it("sends the bot token only to Slack's hosts or the configured API host", () => {
    expect(
      isTokenHost(new URL("https://files.slack.com/files-pri/T1-F1/x.pdf"), { apiUrl: "https://slack.com/api/" }),
    ).toBe(true);
    expect(isTokenHost(new URL("http://files.slack.com/x"), { apiUrl: "https://slack.com/api/" })).toBe(false);
    expect(isTokenHost(new URL("https://slack.com.evil.example/x"), { apiUrl: "https://slack.com/api/" })).toBe(false);
    expect(isTokenHost(new URL("https://evilslack.com/x"), { apiUrl: "https://slack.com/api/" })).toBe(false);
    expect(isTokenHost(new URL("http://127.0.0.1:4000/files-pri/x"), api)).toBe(true);
    expect(isTokenHost(new URL("http://localhost:4000/files-pri/x"), api)).toBe(false);
  });
});

describe("link tokens", () => {
  const links = new Map<string, WorkspaceLink>();
  const nonces = new Set<string>();
  const directory = {
    getLink: async (team: string) => links.get(team),
    putLink: async (l: WorkspaceLink) => void links.set(l.teamId, l),
    consumeNonce: async (n: string) => {
      if (nonces.has(n)) return false;
      nonces.add(n);
      return true;
    },
    getTenant: async (id: TenantId) => ({ id, name: "Org", createdAt: "" }),
    getInstallation: async (team: string) => (team === "T1" ? { installedBy: "U0INSTALLER" } : undefined),
  } as unknown as TenantDirectory;
  const people: Record<string, Partial<SlackUserInfo>> = {
    U1: { workspaceAdmin: true },
    U0MEMBER: {},
    U0INSTALLER: {},
    U0GUEST: { guest: true },
    U0EXT: { teamId: "T0OTHER", workspaceAdmin: true },
  };
  const slack: SlackDirectory = {
    user: async (_team, id) =>
      people[id] ? { id, guest: false, workspaceAdmin: false, bot: false, deleted: false, ...people[id] } : undefined,
    conversation: async () => undefined,
    members: async () => undefined,
    conversationsOf: async () => undefined,
  };
  const secret = Buffer.from("a-long-enough-link-secret-0123456789");
  const logger = new JsonLogger("silent");
  const tenantId = "t_aaaaaaaaaaaaaaaaaaaa" as TenantId;
  const admin: Actor = { tenantId, principal: "u1", principals: ["u1"], role: "admin", surface: "api" };

  it("are bound to team and user, expire after 15 minutes, and work once", async () => {
    let now = Date.parse("2026-01-01T00:00:00Z");
    const service = new LinkService(directory, slack, secret, logger, {
      publicUrl: "https://e.example",
      now: () => now,
    });
    const { token, url, expiresAt } = await service.requestWorkspaceLink({
      teamId: "T1",
      enterpriseId: "E1",
      slackUserId: "U1",
    });
    expect(url).toBe(`https://e.example/link?token=${encodeURIComponent(token)}`);
    expect(expiresAt.getTime() - now).toBe(15 * 60_000);
    expect(service.verifyToken(token)).toMatchObject({ team_id: "T1", enterprise_id: "E1", slack_user_id: "U1" });
    expect(() =>
      new LinkService(directory, slack, Buffer.from("another-secret-of-enough-length"), logger, {
        publicUrl: "",
      }).verifyToken(token),
    ).toThrow(/not valid/);
    now += 15 * 60_000;
    expect(() => service.verifyToken(token)).toThrow(/expired/);
    now -= 60_000;
    const link = await service.link(admin, token);
    expect(link).toMatchObject({ teamId: "T1", enterpriseId: "E1", tenantId });
    await expect(service.link(admin, token)).rejects.toMatchObject({ code: "invalid_link_token" });
    const second = await service.requestWorkspaceLink({ teamId: "T2", slackUserId: "U1" });
    await expect(service.link({ ...admin, role: "member" }, second.token)).rejects.toMatchObject({ status: 403 });
  });

  it("go only to Slack workspace admins and owners or the installer; guests and other organisations are refused", async () => {
    const service = new LinkService(directory, slack, secret, logger, { publicUrl: "https://e.example" });
    const ask = (slackUserId: string) => service.requestWorkspaceLink({ teamId: "T1", slackUserId });
    await expect(ask("U1")).resolves.toMatchObject({ url: expect.stringContaining("/link?token=") });
    await expect(ask("U0INSTALLER")).resolves.toMatchObject({ url: expect.stringContaining("/link?token=") });
    await expect(ask("U0MEMBER")).rejects.toMatchObject({ code: "forbidden", message: expect.stringMatching(/admin/) });
    await expect(ask("U0GUEST")).rejects.toMatchObject({ code: "forbidden", message: expect.stringMatching(/Guests/) });
    await expect(ask("U0EXT")).rejects.toMatchObject({
      code: "forbidden",
      message: expect.stringMatching(/other organisations/),
    });
    await expect(ask("U0NOBODY")).rejects.toMatchObject({ code: "forbidden" });
  });

  it("for a Slack identity cannot link a workspace, and a workspace token cannot tie an identity", async () => {
    links.set("T3", { teamId: "T3", tenantId, linkedBy: "u1", linkedAt: "" });
    const service = new LinkService(directory, slack, secret, logger, { publicUrl: "https://e.example" });
    const slackUser: Actor = {
      tenantId,
      principal: "slack:T3:U0MEMBER",
      principals: ["slack:T3:U0MEMBER"],
      role: "member",
      surface: "slack_command",
      slack: { teamId: "T3", userId: "U0MEMBER" },
    };
    const identity = service.requestIdentityLink(slackUser);
    await expect(service.link(admin, identity.token)).rejects.toMatchObject({ code: "invalid_link_token" });
    const workspace = await service.requestWorkspaceLink({ teamId: "T1", slackUserId: "U1" });
    const web: Actor = { ...admin, web: { userId: "u1", email: "a@x" } };
    await expect(service.connectSlackUser(web, workspace.token)).rejects.toMatchObject({ code: "invalid_link_token" });
  });
});

describe("rate limiter", () => {
  it("counts all limits or none, and says when there is room again", async () => {
    const limiter = new MemoryRateLimiter();
    const limits = [
      { key: "tenant", limit: 3, windowMs: 60_000 },
      { key: "user", limit: 2, windowMs: 60_000 },
    ];
    expect(await limiter.take(limits, 0)).toEqual({ ok: true });
    expect(await limiter.take(limits, 1000)).toEqual({ ok: true });
    expect(await limiter.take(limits, 2000)).toEqual({ ok: false, key: "user", retryAfterMs: 58_000 });
    expect(await limiter.take([{ key: "tenant", limit: 3, windowMs: 60_000 }], 3000)).toEqual({ ok: true });
    expect(await limiter.take(limits, 60_001)).toEqual({ ok: true });
  });
});

describe("Bolt's logging", () => {
  it("never writes a Slack token", () => {
    const lines: string[] = [];
    const logger = new BoltLoggerAdapter(new JsonLogger("debug", {}, (line) => lines.push(line)), "debug");
    logger.error("token xoxb-123-456-abc leaked", new Error("bad xapp-1-A1-2-xyz"));
    logger.debug({ headers: { authorization: "Bearer xoxp-9-9" } });
    expect(lines.join("\n")).not.toMatch(/xox[bp]-\d|xapp-1-A/);
    expect(scrubSecrets("a xoxb-1-2 b")).toBe("a xoxb-[redacted] b");
  });
});

describe("Slack intake", () => {
  it("releases its claims when the job cannot be queued, so Slack's retry is answered", async () => {
    const claims = new Set<string>();
    const directory = {
      claimEvent: async (key: string) => {
        if (claims.has(key)) return false;
        claims.add(key);
        return true;
      },
      releaseEvent: async (key: string) => {
        claims.delete(key);
      },
    };
    let failNext = true;
    const queued: unknown[] = [];
    const queue = {
      enqueue: async (job: unknown) => {
        if (failNext) {
          failNext = false;
          throw new Error("queue unavailable");
        }
        queued.push(job);
        return true;
      },
    };
    const installations = {
      claim: (key: string) => directory.claimEvent(key),
      release: (key: string) => directory.releaseEvent(key),
    };
    const intake = new SlackIntake(installations as never, queue as never, new JsonLogger("silent"));
    const payload = { kind: "event" } as never;
    await expect(intake.submit(["event:Ev1"], "slack_event", payload, "k1")).rejects.toThrow("queue unavailable");
    expect(claims.size).toBe(0);
    expect(await intake.submit(["event:Ev1"], "slack_event", payload, "k1")).toBe(true);
    expect(await intake.submit(["event:Ev1"], "slack_event", payload, "k1")).toBe(false);
    expect(queued).toHaveLength(1);
  });
});
