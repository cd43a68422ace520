import { LogLevel, WebClient } from "@slack/web-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Actor } from "../../src/domain/access.js";
import { type AuditRecord, newAuditId } from "../../src/domain/audit.js";
import type { TenantId } from "../../src/domain/tenant.js";
import type { AuditLog, AuditQuery } from "../../src/ports/audit-log.js";
import { AuditService } from "../../src/services/audit.js";
import { renderNotice } from "../../src/slack/blocks.js";
import { HOME_BLOCKS_LIMIT, renderHome } from "../../src/slack/home-view.js";
import { FakeSlack, type FakeTeam } from "../support/fake-slack.js";

const TENANT = "t_aaaaaaaaaaaaaaaaaaaa" as TenantId;
const OTHER_TENANT = "t_bbbbbbbbbbbbbbbbbbbb" as TenantId;
const ME = "slack:T1:U1";

const actor = (principal = ME, role: Actor["role"] = "member"): Actor => ({
  tenantId: TENANT,
  principal,
  principals: [principal, "web-user-of-me"],
  role,
  surface: "slack_command",
  slack: { teamId: "T1", userId: "U1" },
});

let seq = 0;
function record(userId: string, question: string, tenantId: TenantId = TENANT): AuditRecord {
  seq++;
  const at = new Date(Date.UTC(2025, 0, 1) + seq * 1000);
  return {
    id: newAuditId(at, String(seq).padStart(6, "0")),
    tenantId,
    createdAt: at.toISOString(),
    actor: { userId },
    surface: "slack_dm",
    question,
    answer: `the answer to ${question}`,
    sources: [],
    outcome: "answered",
    latencyMs: 1,
    model: "test",
  };
}

/** An audit log over an array, newest first, paging by id as the adapters do; counts its pages. */
function memoryLog(records: AuditRecord[]): AuditLog & { pages: number } {
  const log = {
    pages: 0,
    async append(r: AuditRecord) {
      records.push(r);
    },
    async list(tenant: TenantId, query: AuditQuery) {
      log.pages++;
      const sorted = records
        .filter((r) => r.tenantId === tenant || tenant === TENANT) // a broken store: leaks OTHER_TENANT's rows
        .filter((r) => !query.cursor || r.id < query.cursor)
        .sort((a, b) => (a.id < b.id ? 1 : -1));
      const page = sorted.slice(0, query.limit);
      const last = page.at(-1);
      return sorted.length > query.limit && last ? { records: page, nextCursor: last.id } : { records: page };
    },
    async get() {
      return undefined;
    },
    async setFeedback() {
      return false;
    },
    async deleteBefore() {
      return 0;
    },
    async deleteTenant() {},
  };
  return log;
}

describe("AuditService.recentQuestions", () => {
  it("lists only the actor's own questions (as the person they act as), newest first, without answers", async () => {
    const records = [
      record(ME, "first"),
      record("slack:T1:U2", "someone else's"),
      record("web-user-of-me", "asked on the web"),
      record(ME, "second", OTHER_TENANT),
      record(ME, "third"),
    ];
    const audit = new AuditService(memoryLog(records));
    const mine = await audit.recentQuestions(actor(), 5);
    expect(mine.map((q) => q.question)).toEqual(["third", "first"]);
    expect(mine[0]).not.toHaveProperty("answer");
    expect(mine[0]).not.toHaveProperty("sources");
    // An admin of the organisation gets their own questions here too, nobody else's.
    expect((await audit.recentQuestions(actor(ME, "admin"), 5)).map((q) => q.question)).toEqual(["third", "first"]);
    expect(await audit.recentQuestions(actor(), 1)).toHaveLength(1);
    expect(await audit.recentQuestions(actor(), 0)).toEqual([]);
  });

  it("reads a bounded number of pages of the organisation's log", async () => {
    const records = [record(ME, "long ago")];
    for (let i = 0; i < 5000; i++) records.push(record("slack:T1:U2", `busy ${i}`));
    const log = memoryLog(records);
    expect(await new AuditService(log).recentQuestions(actor(), 5)).toEqual([]);
    expect(log.pages).toBe(10);
  });

  it("stops reading once it has enough", async () => {
    const records: AuditRecord[] = [];
    for (let i = 0; i < 500; i++) records.push(record(ME, `mine ${i}`));
    const log = memoryLog(records);
    expect(await new AuditService(log).recentQuestions(actor(), 5)).toHaveLength(5);
    expect(log.pages).toBe(1);
  });
});

describe("renderHome", () => {
  it("escapes questions, shortens long ones and stays within Slack's limits", () => {
    const questions = Array.from({ length: 60 }, (_, i) => ({
      id: String(i),
      createdAt: "2025-03-04T05:06:07.000Z",
      surface: "slack_mention" as const,
      question: i === 0 ? `<!channel> & <@U0BOSS> ${"x".repeat(5000)}` : `question ${i}`,
      outcome: "no_context" as const,
      ...(i === 0 ? { feedback: "up" as const } : {}),
    }));
    const view = renderHome({ kind: "linked", organisation: "A & <B>", questions, webUrl: "https://enclave.test" });
    expect(view.type).toBe("home");
    expect(view.blocks.length).toBeLessThanOrEqual(HOME_BLOCKS_LIMIT);
    const text = FakeSlack.textOf({ blocks: view.blocks });
    expect(text).toContain("linked to *A &amp; &lt;B&gt;*");
    expect(text).toContain("“&lt;!channel&gt; &amp; &lt;@U0BOSS&gt; xxx");
    expect(text).not.toContain("<!channel>");
    expect(text).toContain("…”");
    expect(text).toContain("|2025-03-04 05:06 UTC> · in a channel · nothing relevant found · you rated it :+1:");
    for (const b of view.blocks as { type: string; text?: { text: string } }[])
      if (b.type === "section") expect(b.text?.text.length).toBeLessThanOrEqual(3000);
  });

  it("shows a refused user only the reason", () => {
    const view = renderHome({ kind: "refused", notice: renderNotice("Guests can't use Enclave.") });
    expect(FakeSlack.textOf({ blocks: view.blocks }).trim()).toBe("Enclave\nGuests can't use Enclave.");
  });
});

describe("the fake Slack's views.publish", () => {
  let fake: FakeSlack;
  let team: FakeTeam;
  let client: WebClient;

  beforeAll(async () => {
    fake = await FakeSlack.start();
    team = fake.addTeam({ id: "T0VIEWS01", name: "Views", users: [{ id: "U0VIEWER1", name: "viewer" }] });
    const quiet = {
      debug() {},
      info() {},
      warn() {},
      error() {},
      setLevel() {},
      getLevel: () => LogLevel.ERROR,
      setName() {},
    };
    client = new WebClient(team.botToken, {
      slackApiUrl: `${fake.apiUrl}/`,
      retryConfig: { retries: 0 },
      logger: quiet,
    });
  });

  afterAll(async () => {
    await fake?.stop();
  });

  const error = async (call: Promise<unknown>) =>
    call.then(
      () => undefined,
      (e: { data?: { error?: string } }) => e.data?.error,
    );
  const section = (text: string) => ({ type: "section", text: { type: "mrkdwn", text } });

  it("records the home view per user, and answers as Slack does to a bad one", async () => {
    await client.views.publish({ user_id: "U0VIEWER1", view: { type: "home", blocks: [section("hello")] } });
    expect(fake.homeText(team.id, "U0VIEWER1").trim()).toBe("hello");
    expect(fake.homeViewCount(team.id, "U0VIEWER1")).toBe(1);
    expect(fake.homeText(team.id, "U0NOBODY1")).toBe("");

    const tooMany = Array.from({ length: 101 }, () => section("x"));
    expect(await error(client.views.publish({ user_id: "U0VIEWER1", view: { type: "home", blocks: tooMany } }))).toBe(
      "invalid_blocks",
    );
    expect(
      await error(
        client.views.publish({ user_id: "U0VIEWER1", view: { type: "home", blocks: [section("x".repeat(3001))] } }),
      ),
    ).toBe("invalid_blocks");
    expect(
      await error(client.views.publish({ user_id: "U0VIEWER1", view: { type: "modal", blocks: [] } as never })),
    ).toBe("invalid_arguments");
    expect(fake.homeViewCount(team.id, "U0VIEWER1")).toBe(1);
  });
});
