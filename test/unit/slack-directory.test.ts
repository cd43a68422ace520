import { WebClient } from "@slack/web-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JsonLogger } from "../../src/adapters/local/json-logger.js";
import { SlackWebDirectory } from "../../src/slack/slack-directory.js";
import type { SlackWorkspaces } from "../../src/slack/workspaces.js";
import { FakeSlack, type FakeTeam } from "../support/fake-slack.js";

/** What Slack says about people and conversations, read through the Web API of the fake Slack. */
let fake: FakeSlack;
let team: FakeTeam;
let directory: SlackWebDirectory;

beforeAll(async () => {
  fake = await FakeSlack.start();
  fake.strictUsers = true;
  fake.strictConversations = true;
  team = fake.addTeam({
    id: "T0DIRECT1",
    name: "Directory",
    users: [
      { id: "U0ADA0001", name: "ada", isAdmin: true },
      { id: "U0GUEST01", name: "guest", isGuest: "single" },
      { id: "U0GONE001", name: "gone", deleted: true },
    ],
  });
  fake.addChannel(team.id, { id: "C0BIG0001", kind: "private", members: ["U0ADA0001", "U0GUEST01"] });
  fake.addChannel(team.id, { id: "D0ADA0001", kind: "im", members: ["U0ADA0001"] });
  const workspaces = {
    forTeam: async () => ({ teamId: team.id, botToken: team.botToken }),
    client: (token: string) => new WebClient(token, { slackApiUrl: `${fake.apiUrl}/` }),
  } as unknown as SlackWorkspaces;
  directory = new SlackWebDirectory(workspaces, new JsonLogger("silent"), 0);
});

afterAll(async () => {
  await fake?.stop();
});

describe("SlackWebDirectory", () => {
  it("tells full members, admins, guests, deleted and unknown people apart", async () => {
    expect(await directory.user(team.id, "U0ADA0001")).toMatchObject({ guest: false, workspaceAdmin: true });
    expect(await directory.user(team.id, "U0GUEST01")).toMatchObject({ guest: true });
    expect(await directory.user(team.id, "U0GONE001")).toMatchObject({ deleted: true });
    expect(await directory.user(team.id, "U0NOBODY1")).toBeUndefined();
  });

  it("reads a conversation's kind and members, and a DM's members from conversations.info where members is refused", async () => {
    expect(await directory.conversation(team.id, "C0BIG0001")).toMatchObject({
      kind: "private",
      externallyShared: false,
    });
    expect([...((await directory.members(team.id, "C0BIG0001")) ?? [])].sort()).toEqual(
      ["U0ADA0001", "U0GUEST01", team.botUserId].sort(),
    );
    expect(await directory.conversation(team.id, "D0ADA0001")).toMatchObject({ kind: "im", dmWith: "U0ADA0001" });
    fake.failNext("conversations.members", { error: "method_not_supported_for_channel_type" });
    expect(await directory.members(team.id, "D0ADA0001")).toEqual(["U0ADA0001"]);
    expect(await directory.members(team.id, "C0NOWHERE")).toBeUndefined();
    expect(await directory.conversationsOf(team.id, "U0ADA0001")).toEqual(
      expect.arrayContaining(["C0BIG0001", "D0ADA0001"]),
    );
  });

  it("fails loudly on a Slack error that is not an answer, so callers grant nothing", async () => {
    fake.failNext("users.info", { error: "internal_error" });
    await expect(directory.user(team.id, "U0ADA0001")).rejects.toThrow();
  });
});
