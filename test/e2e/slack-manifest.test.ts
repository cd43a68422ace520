import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { BOT_EVENTS, BOT_SCOPES, SLASH_COMMAND } from "../../src/slack/settings.js";

const manifest = JSON.parse(readFileSync(resolve(process.cwd(), "manifest.json"), "utf8"));
const SCHEMAS = resolve(process.cwd(), "../shared/data/slack/manifest-schema");
const hasSchemas = existsSync(join(SCHEMAS, "manifest.schema.json"));
if (!hasSchemas)
  console.warn(
    "../shared/data/slack/manifest-schema is absent: skipping the validation against Slack's manifest schema.",
  );

const read = (name: string) => JSON.parse(readFileSync(join(SCHEMAS, name), "utf8"));

function validator() {
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  // The top schema picks a version through $refs to the schemas' public URLs: map them to the local files.
  ajv.addSchema(
    read("manifest.schema.1.0.0.json"),
    "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/manifest.schema.1.0.0.json",
  );
  ajv.addSchema(
    read("manifest.schema.2.0.0.json"),
    "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/manifest.schema.2.0.0.json",
  );
  return ajv.compile(read("manifest.schema.json"));
}

describe("manifest.json", () => {
  it.skipIf(!hasSchemas)(
    "is valid against Slack's own manifest schema (which accepts Slack's valid sample and rejects its invalid one)",
    () => {
      const validate = validator();
      expect(validate(read("manifest.valid.json"))).toBe(true);
      expect(validate(read("manifest.invalid.json"))).toBe(false);
      const ok = validate(manifest);
      expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 1)).toEqual([]);
      expect(ok).toBe(true);
    },
  );

  it("declares the bot user, /ask, the events, interactivity and the OAuth redirect on the same host", () => {
    expect(manifest.features.bot_user.display_name).toBe("Enclave");
    expect(manifest.features.slash_commands.map((c: { command: string }) => c.command)).toEqual([SLASH_COMMAND]);
    expect([...manifest.settings.event_subscriptions.bot_events].sort()).toEqual([...BOT_EVENTS].sort());
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
    const base = "https://enclave.example.com";
    expect(manifest.settings.event_subscriptions.request_url).toBe(`${base}/slack/events`);
    expect(manifest.settings.interactivity.request_url).toBe(`${base}/slack/events`);
    expect(manifest.features.slash_commands[0].url).toBe(`${base}/slack/events`);
    expect(manifest.oauth_config.redirect_urls).toEqual([`${base}/slack/oauth_redirect`]);
    // Users can DM the bot (every DM is a question).
    expect(manifest.features.app_home).toMatchObject({
      messages_tab_enabled: true,
      messages_tab_read_only_enabled: false,
    });
    // The Home tab is published for each user who opens it (app_home_opened).
    expect(manifest.features.app_home.home_tab_enabled).toBe(true);
    expect(manifest.settings.event_subscriptions.bot_events).toContain("app_home_opened");
  });

  it("asks for exactly the scopes the code uses, each one used", () => {
    expect([...manifest.oauth_config.scopes.bot].sort()).toEqual([...BOT_SCOPES].sort());
    expect(manifest.oauth_config.scopes.user).toBeUndefined();
    const code = sources(resolve(process.cwd(), "src/slack"))
      .map((f) => readFileSync(f, "utf8"))
      .join("\n");
    // Each scope and the calls or events that need it.
    const uses: Record<string, RegExp> = {
      "app_mentions:read": /"app_mention"/,
      "assistant:write": /assistant\.threads\.setStatus/,
      "channels:history": /conversations\.replies/,
      "groups:history": /conversations\.replies/,
      "mpim:history": /conversations\.replies/,
      "im:history": /conversations\.replies|isDirectMessage/,
      "chat:write": /chat\.postMessage/,
      commands: /app\.command\(/,
      "files:read": /files\.info/,
      "users:read": /users\.info/,
      "channels:read": /conversations\.info/,
      "groups:read": /conversations\.members/,
      "mpim:read": /conversations\.members/,
      "im:read": /conversations\.info/,
    };
    for (const scope of BOT_SCOPES) expect(code, scope).toMatch(uses[scope] ?? /^$/);
    // Slack grants assistant:write only to an app with the assistant view (Agents & AI Apps) turned on.
    expect(manifest.features.assistant_view?.assistant_description).toEqual(expect.any(String));
    // And nothing broader sneaks in.
    for (const broad of [
      "chat:write.public",
      "files:write",
      "users:read.email",
      "admin",
      "users.profile:read",
      "reactions:write",
    ]) {
      expect(manifest.oauth_config.scopes.bot).not.toContain(broad);
    }
  });
});

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith(".ts") ? [path] : [];
  });
}
