import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeTeam, nextTs } from "../support/fake-slack.js";
import { newOrganisation } from "../support/server.js";
import { homeOpenedEnvelope, mentionEnvelope, messageEnvelope } from "../support/slack.js";
import {
  linkOverHttp,
  linkUrlIn,
  PUBLIC_URL,
  type SlackHarness,
  settle,
  startSlackHarness,
  tokenOf,
  whoIn,
} from "../support/slack-harness.js";

/**
 * The App Home tab: what each Slack user sees when they open it, through signed `app_home_opened`
 * events into the real Bolt app and the views the fake Slack received.
 */
const handbook = readFileSync(
  new URL("../../examples/documents/northwind-employee-handbook.md", import.meta.url),
  "utf8",
);

let h: SlackHarness;
let north: FakeTeam;
let globex: FakeTeam;
let northOrg: Awaited<ReturnType<typeof newOrganisation>>;
let globexOrg: Awaited<ReturnType<typeof newOrganisation>>;

const NORTH = "T0NORHOME";
const GLOBEX = "T0GLXHOME";
const ADMIN = "U0HADMIN1"; // a Slack workspace admin of Northwind's workspace
const ASKER = "U0HASKER1";
const OTHER = "U0HOTHER1";
const GUEST = "U0HGUEST1";
const G_ADMIN = "U0GADMIN1";
const G_MEMBER = "U0GMEMBR1";
const SHARED = "C0SHARED1"; // a Slack Connect channel of Northwind's workspace, with a Globex member in it

const DM_QUESTION = "What paid vacation do full-time employees receive per calendar year?";
const MENTION_QUESTION = "What is the hotel limit in capital cities?";
const OTHER_QUESTION = "When do laptops get replaced?";

beforeAll(async () => {
  h = await startSlackHarness((fake) => {
    north = fake.addTeam({
      id: NORTH,
      name: "Northwind Slack",
      users: [
        { id: ADMIN, name: "boss", isAdmin: true },
        { id: ASKER, name: "asker" },
        { id: OTHER, name: "other" },
        { id: GUEST, name: "guest", isGuest: "multi" },
      ],
    });
    globex = fake.addTeam({
      id: GLOBEX,
      name: "Globex Slack",
      users: [
        { id: G_ADMIN, name: "gus", isAdmin: true },
        { id: G_MEMBER, name: "gina" },
      ],
    });
    fake.addChannel(NORTH, {
      id: SHARED,
      name: "with-globex",
      kind: "public",
      members: [ASKER, G_MEMBER],
      connectedTeams: [GLOBEX],
    });
    return { SLACK_BOT_TOKEN: north.botToken };
  });
  northOrg = await newOrganisation(h.server.url, "Northwind");
  globexOrg = await newOrganisation(h.server.url, "Globex");
  const upload = await northOrg.client.upload("Employee Handbook.md", handbook, "text/markdown");
  expect(upload.status).toBe(202);
  // Northwind's workspace uses the single SLACK_BOT_TOKEN; Globex's is an installation, as OAuth stores it.
  await h.server.container.directory.putInstallation({
    teamId: globex.id,
    teamName: globex.name,
    botUserId: globex.botUserId,
    botId: globex.botId,
    botToken: globex.botToken,
    installedBy: G_ADMIN,
    installedAt: new Date().toISOString(),
  });
}, 120_000);

afterAll(async () => {
  await h?.stop();
});

/** Opens the Home tab as `user` of `team` and returns the text of the view published for them. */
async function openHome(team: FakeTeam, user: string): Promise<string> {
  const before = h.fake.homeViewCount(team.id, user);
  const ack = await h.slack.event(homeOpenedEnvelope(whoIn(team, user)));
  expect(ack.status).toBe(200);
  expect(ack.ms).toBeLessThan(2500); // Slack gives up at 3 s
  return h.fake.waitForHome(team.id, user, before);
}

/** The audit records of an organisation, as its admin reads them on the web. */
const audit = async (org = northOrg) => (await org.client.call("GET", "/api/audit?limit=200")).json.records as any[];

/** Waits until the bot answered (the exchange is in the audit log and the answer's job is done). */
async function answered(question: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await audit()).some((r) => r.question.includes(question))) {
    if (Date.now() > deadline) throw new Error(`no answer to “${question}”`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await settle(h);
}

describe("the Home tab of a workspace that is not linked", () => {
  it("tells a Slack admin it is not linked, hands them the link button, and says how to ask", async () => {
    const text = await openHome(north, ADMIN);
    expect(text).toMatch(/\*Northwind Slack\* is not linked to an Enclave organisation yet/);
    expect(text).toMatch(/Link this workspace/);
    expect(text).toMatch(/\/ask <question>/);
    expect(text).not.toMatch(/Your recent questions/);
    const view = h.fake.lastHomeView(north.id, ADMIN);
    expect(view?.type).toBe("home");
    expect(linkUrlIn(view)).toMatch(new RegExp(`^${PUBLIC_URL}/link\\?token=`));
  });

  it("tells a member who is not a Slack admin to ask one, with no link", async () => {
    const text = await openHome(north, ASKER);
    expect(text).toMatch(/isn't linked to an organisation yet/);
    expect(text).toMatch(/Only a Slack workspace admin or owner .* can link this workspace/);
    expect(linkUrlIn(h.fake.lastHomeView(north.id, ASKER))).toBeUndefined();
  });

  it("publishes nothing when the Messages tab is opened", async () => {
    const before = h.fake.callsTo("views.publish").length;
    const ack = await h.slack.event(homeOpenedEnvelope(whoIn(north, ASKER), { tab: "messages" }));
    expect(ack.status).toBe(200);
    await settle(h);
    expect(h.fake.callsTo("views.publish").length).toBe(before);
  });

  it("links with the Home tab's button: the admin's link works on the web", async () => {
    await openHome(north, ADMIN);
    const url = linkUrlIn(h.fake.lastHomeView(north.id, ADMIN));
    const linked = await northOrg.client.call("POST", "/api/links", { token: tokenOf(url ?? "") });
    expect(linked.status, JSON.stringify(linked.json)).toBe(201);
    expect(linked.json).toMatchObject({ team_id: north.id, tenant_id: northOrg.tenantId });
  });
});

describe("the Home tab of a linked workspace", () => {
  it("names the organisation, tells how to ask and share, and lists no question yet", async () => {
    const text = await openHome(north, ASKER);
    expect(text).toMatch(/\*Northwind Slack\* is linked to \*Northwind\*/);
    expect(text).toMatch(/`\/ask <question>`/);
    expect(text).toMatch(/`@Enclave <question>` in a channel/);
    expect(text).toMatch(/A direct message to me is a question too/);
    expect(text).toMatch(/Share a PDF, \.txt or \.md file in a channel I'm in/);
    expect(text).toContain(`upload documents on the web: <${PUBLIC_URL}|`);
    expect(text).toMatch(/You haven't asked me anything in this workspace yet/);
  });

  it("lists the user's own questions after they asked, newest first, with date and outcome, escaped", async () => {
    await h.slack.event(
      messageEnvelope(whoIn(north, ASKER), { channel: `D${ASKER.slice(1)}`, text: DM_QUESTION, ts: nextTs() }),
    );
    await answered(DM_QUESTION);
    const ts = nextTs();
    await h.slack.event(
      mentionEnvelope(whoIn(north, ASKER), {
        channel: "C0GENERAL1",
        text: `<@${north.botUserId}> ${MENTION_QUESTION} cc <!channel> &amp; <@${OTHER}>`,
        ts,
      }),
    );
    await answered(MENTION_QUESTION);

    const text = await openHome(north, ASKER);
    expect(text).toMatch(/Your recent questions/);
    const dm = text.indexOf(DM_QUESTION);
    const mention = text.indexOf(MENTION_QUESTION);
    expect(dm).toBeGreaterThan(0);
    expect(mention).toBeGreaterThan(0);
    expect(mention).toBeLessThan(dm); // newest first
    expect(text).toMatch(/in a DM · answered/);
    expect(text).toMatch(/in a channel · (answered|nothing relevant found)/);
    // Dates render in the reader's time zone, with a UTC fallback.
    expect(text).toMatch(/<!date\^\d+\^\{date_short_pretty\} at \{time\}\|\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC>/);
    // What the user typed shows as text: it pings nobody.
    expect(text).toContain(`cc &lt;!channel&gt; &amp; &lt;@${OTHER}&gt;`);
    expect(text).not.toContain("<!channel>");
    expect(text).not.toContain(`<@${OTHER}>`);
    // Questions only: never the answer.
    expect(text).not.toMatch(/27 days/);
  });

  it("shows another user of the same workspace only their own questions", async () => {
    expect(await openHome(north, OTHER)).not.toContain(DM_QUESTION);
    await h.slack.event(
      messageEnvelope(whoIn(north, OTHER), { channel: `D${OTHER.slice(1)}`, text: OTHER_QUESTION, ts: nextTs() }),
    );
    await answered(OTHER_QUESTION);
    const other = await openHome(north, OTHER);
    expect(other).toMatch(/linked to \*Northwind\*/);
    expect(other).toContain(OTHER_QUESTION);
    expect(other).not.toContain(DM_QUESTION);
    expect(other).not.toContain(MENTION_QUESTION);
    // A Slack admin of the workspace sees no one else's questions either.
    const admin = await openHome(north, ADMIN);
    expect(admin).toMatch(/You haven't asked me anything/);
    for (const q of [DM_QUESTION, MENTION_QUESTION, OTHER_QUESTION]) expect(admin).not.toContain(q);
    const asker = await openHome(north, ASKER);
    expect(asker).toContain(DM_QUESTION);
    expect(asker).not.toContain(OTHER_QUESTION);
  });

  it("shows a guest the reason they can't use Enclave, and nothing of the organisation", async () => {
    const text = await openHome(north, GUEST);
    expect(text).toMatch(/Guests can't use Enclave/);
    for (const hidden of ["Northwind", "/ask", "recent questions", DM_QUESTION, MENTION_QUESTION])
      expect(text).not.toContain(hidden);
  });

  it("shows a Slack Connect user of another organisation the reason, and nothing of the organisation", async () => {
    const text = await openHome(north, G_MEMBER);
    expect(text).toMatch(/People from other organisations \(Slack Connect\) can't use Enclave here/);
    for (const hidden of ["Northwind", "recent questions", DM_QUESTION, MENTION_QUESTION])
      expect(text).not.toContain(hidden);
  });
});

describe("the Home tab of another organisation's workspace", () => {
  it("never shows the first organisation's name or questions, linked or not", async () => {
    const unlinked = await openHome(globex, G_ADMIN);
    expect(unlinked).toMatch(/\*Globex Slack\* is not linked/);
    expect(unlinked).not.toContain("Northwind");

    await linkOverHttp(h, whoIn(globex, G_ADMIN), globexOrg.client, "C0GLXGEN1");
    for (const user of [G_ADMIN, G_MEMBER]) {
      const text = await openHome(globex, user);
      expect(text).toMatch(/\*Globex Slack\* is linked to \*Globex\*/);
      expect(text).toMatch(/You haven't asked me anything/);
      for (const hidden of ["Northwind", DM_QUESTION, MENTION_QUESTION, OTHER_QUESTION])
        expect(text).not.toContain(hidden);
    }
    // And the first organisation's audit holds nothing of Globex's workspace.
    expect((await audit()).every((r) => r.slack.team_id === north.id)).toBe(true);
    expect(await audit(globexOrg)).toEqual([]);
  });
});
