import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ConfigError, configSchema, loadConfig, slackMode } from "../../src/config/config.js";

describe("config", () => {
  it("runs the embedded default with no environment at all", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      DATA_DIR: "./data",
      PORT: 3000,
      PUBLIC_URL: "http://localhost:3000",
      BACKEND: "local",
      VECTOR_STORE: "sqlite",
      CHAT_MODEL: "extractive",
      MAX_FILE_BYTES: 25 * 1024 * 1024,
      SHUTDOWN_TIMEOUT_MS: 10_000,
    });
    expect(slackMode(c)).toBe("off");
  });

  it("points link pages, OAuth and the token issuer at the port the server listens on unless PUBLIC_URL says otherwise", () => {
    expect(loadConfig({ PORT: "3012" }).PUBLIC_URL).toBe("http://localhost:3012");
    expect(loadConfig({ PORT: "3012", PUBLIC_URL: "" }).PUBLIC_URL).toBe("http://localhost:3012");
    expect(loadConfig({ PORT: "3012", PUBLIC_URL: "https://enclave.example.com/" }).PUBLIC_URL).toBe(
      "https://enclave.example.com",
    );
  });

  it("fails with a message naming the bad variable", () => {
    expect(() => loadConfig({ PORT: "eighty" })).toThrow(/PORT/);
    expect(() => loadConfig({ PUBLIC_URL: "not a url" })).toThrow(/PUBLIC_URL/);
    expect(() => loadConfig({ BACKEND: "azure" })).toThrow(/BACKEND/);
    expect(() => loadConfig({ SLACK_BOT_TOKEN: "xoxb-1" })).toThrow(/SLACK_SIGNING_SECRET/);
    expect(() => loadConfig({ SLACK_CLIENT_ID: "1" })).toThrow(/SLACK_CLIENT_SECRET/);
    expect(() => loadConfig({ BACKEND: "aws" })).toThrow(ConfigError);
    try {
      loadConfig({ BACKEND: "aws" });
    } catch (error) {
      expect((error as ConfigError).problems.join("\n")).toMatch(/S3_BUCKET: required when BACKEND=aws/);
    }
  });

  it("picks the Slack connection mode from the settings", () => {
    expect(slackMode(loadConfig({ SLACK_BOT_TOKEN: "xoxb-1", SLACK_SIGNING_SECRET: "s" }))).toBe("http");
    expect(slackMode(loadConfig({ SLACK_BOT_TOKEN: "xoxb-1", SLACK_APP_TOKEN: "xapp-1" }))).toBe("socket");
  });

  it("needs only a model name for an OpenAI-compatible server, and says so when it is missing", () => {
    expect(loadConfig({ CHAT_MODEL: "openai", OPENAI_MODEL: "llama3.1" })).toMatchObject({
      OPENAI_BASE_URL: "https://api.openai.com/v1",
      OPENAI_TOOLS: true,
      OPENAI_TIMEOUT_MS: 60_000,
      OPENAI_MAX_RETRIES: 2,
    });
    expect(
      loadConfig({
        CHAT_MODEL: "openai",
        OPENAI_MODEL: "m",
        OPENAI_BASE_URL: "http://localhost:11434/v1/",
        OPENAI_TOOLS: "false",
      }),
    ).toMatchObject({ OPENAI_BASE_URL: "http://localhost:11434/v1", OPENAI_TOOLS: false });
    expect(() => loadConfig({ CHAT_MODEL: "openai" })).toThrow(/OPENAI_MODEL: required when CHAT_MODEL=openai/);
    expect(() => loadConfig({ CHAT_MODEL: "openai", OPENAI_MODEL: "m", OPENAI_BASE_URL: "localhost" })).toThrow(
      /OPENAI_BASE_URL/,
    );
  });

  it("documents every setting in .env.example, with values that load", () => {
    const example = readFileSync(new URL("../../.env.example", import.meta.url), "utf8");
    const documented = Object.fromEntries(
      example
        .split("\n")
        .filter((line) => /^[A-Z0-9_]+=/.test(line))
        .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
    );
    expect(Object.keys(configSchema.shape).filter((key) => !(key in documented))).toEqual([]);
    expect(() => loadConfig(documented)).not.toThrow();
  });
});
