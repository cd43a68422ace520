import { describe, expect, it } from "vitest";
import { isAppError } from "../../src/domain/errors.js";
import { fileDestination, isLocalHost, isTokenHost } from "../../src/slack/file-hosts.js";
import { downloadSlackFile } from "../../src/slack/outbound.js";

const SLACK = { apiUrl: "https://slack.com/api/" };
const GATEWAY = { apiUrl: "http://127.0.0.1:4000/api/" };

const dest = (url: string, settings = SLACK) => fileDestination(new URL(url), settings);
const allowed = (url: string, settings = SLACK) => dest(url, settings).allowed;

describe("the bot token's destinations", () => {
  it("match scheme, host and port exactly", () => {
    expect(isTokenHost(new URL("https://files.slack.com/files-pri/T1-F1/x.pdf"), SLACK)).toBe(true);
    expect(isTokenHost(new URL("https://FILES.Slack.COM:443/x"), SLACK)).toBe(true);
    expect(isTokenHost(new URL("https://files.slack.com:8443/x"), SLACK)).toBe(false);
    expect(isTokenHost(new URL("http://files.slack.com/x"), SLACK)).toBe(false);
    expect(isTokenHost(new URL("https://a.slack-edge.com/x"), SLACK)).toBe(false);
    expect(isTokenHost(new URL("https://files.slack-files.com/x"), SLACK)).toBe(false);
    expect(isTokenHost(new URL("https://files.slack.com@127.0.0.1/x"), SLACK)).toBe(false);
    expect(isTokenHost(new URL("http://127.0.0.1:4000/files-pri/x"), GATEWAY)).toBe(true);
    // The gateway's host on another port, or another scheme, is another origin.
    expect(isTokenHost(new URL("http://127.0.0.1:4001/files-pri/x"), GATEWAY)).toBe(false);
    expect(isTokenHost(new URL("http://127.0.0.1/files-pri/x"), GATEWAY)).toBe(false);
    expect(isTokenHost(new URL("https://127.0.0.1:4000/files-pri/x"), GATEWAY)).toBe(false);
    expect(isTokenHost(new URL("https://gw.example:8443/x"), { apiUrl: "https://gw.example/api/" })).toBe(false);
    expect(isTokenHost(new URL("https://gw.example:443/x"), { apiUrl: "https://gw.example/api/" })).toBe(true);
  });
});

describe("file download destinations", () => {
  it("allow Slack's file hosts over https on the default port, the token only to *.slack.com", () => {
    expect(dest("https://files.slack.com/files-pri/T1-F1/download/x.pdf")).toEqual({ allowed: true, token: true });
    expect(dest("https://files-edu.slack.com/x")).toEqual({ allowed: true, token: true });
    expect(dest("https://FILES.SLACK.COM./x")).toEqual({ allowed: true, token: true });
    expect(dest("https://slack-files.com/x")).toEqual({ allowed: true, token: false });
    expect(dest("https://files.slack-files.com/x")).toEqual({ allowed: true, token: false });
    expect(dest("https://a.slack-edge.com/x")).toEqual({ allowed: true, token: false });
  });

  it("refuse other schemes, ports and look-alike hosts", () => {
    for (const url of [
      "http://files.slack.com/x",
      "https://files.slack.com:8443/x",
      "ftp://files.slack.com/x",
      "https://slack.com.evil.example/x",
      "https://evilslack.com/x",
      "https://slack-edge.com.evil.example/x",
      "https://evil-slack-edge.com/x",
      "https://example.com/x",
      "https://files.slack.com@evil.example/x",
      "https://user:pw@files.slack.com/x",
    ])
      expect(dest(url), url).toMatchObject({ allowed: false, why: "not_slack" });
    expect(dest("https://files.slack.com@evil.example/x")).toMatchObject({ host: "evil.example" });
  });

  it("refuse IP literals, loopback, link-local and private addresses and local names", () => {
    for (const url of [
      "https://127.0.0.1/x",
      "http://127.0.0.1:4000/x",
      "https://127.1/x",
      "https://2130706433/x",
      "https://0x7f.0.0.1/x",
      "https://127.0.0.1./x",
      "https://0.0.0.0/x",
      "https://10.1.2.3/x",
      "https://172.16.0.1/x",
      "https://192.168.1.1/x",
      "https://169.254.169.254/latest/meta-data/",
      "https://100.64.0.1/x",
      "https://[::1]/x",
      "https://[::]/x",
      "https://[fe80::1]/x",
      "https://[fd00::1]/x",
      "https://[::ffff:127.0.0.1]/x",
      "https://[::ffff:169.254.169.254]/x",
      "https://[::ffff:7f00:1]/x",
      "https://[64:ff9b::7f00:1]/x",
      "https://localhost/x",
      "https://LOCALHOST./x",
      "https://files.slack.com.localhost/x",
      "https://files.slack.com@127.0.0.1/x",
    ])
      expect(dest(url), url).toMatchObject({ allowed: false });
    expect(dest("https://[::ffff:127.0.0.1]/x")).toMatchObject({ why: "local_address" });
    expect(dest("https://files.slack.com@127.0.0.1/x")).toMatchObject({ host: "127.0.0.1" });
    expect(dest("https://169.254.169.254/")).toMatchObject({ why: "local_address", host: "169.254.169.254" });
    // A public IP literal is no Slack file host either.
    expect(dest("https://8.8.8.8/x")).toMatchObject({ allowed: false, why: "not_slack" });
    expect(dest("https://[2001:4860::8888]/x")).toMatchObject({ allowed: false, why: "not_slack" });
  });

  it("allow exactly SLACK_API_URL's origin, loopback included, and nothing else on that host", () => {
    expect(dest("http://127.0.0.1:4000/files-pri/T1-F1/x", GATEWAY)).toEqual({ allowed: true, token: true });
    expect(allowed("http://127.0.0.1:4001/x", GATEWAY)).toBe(false);
    expect(allowed("https://127.0.0.1:4000/x", GATEWAY)).toBe(false);
    expect(allowed("http://localhost:4000/x", GATEWAY)).toBe(false);
    expect(allowed("http://[::1]:4000/x", GATEWAY)).toBe(false);
    expect(allowed("http://files.slack.com@127.0.0.1:4000/x", GATEWAY)).toBe(false);
    // Slack's own file hosts stay allowed beside a gateway.
    expect(dest("https://files.slack.com/x", GATEWAY)).toEqual({ allowed: true, token: true });
  });

  it("know local addresses from public ones", () => {
    expect(isLocalHost("127.0.0.1")).toBe(true);
    expect(isLocalHost("::ffff:7f00:1")).toBe(true);
    expect(isLocalHost("fe80::abcd")).toBe(true);
    expect(isLocalHost("8.8.8.8")).toBe(false);
    expect(isLocalHost("::ffff:808:808")).toBe(false);
    expect(isLocalHost("files.slack.com")).toBe(false);
  });
});

describe("downloading through redirects", () => {
  /** A fetch that answers from a script by URL and records what it was asked, without any network. */
  function scripted(routes: Record<string, { status: number; location?: string; body?: string }>) {
    const asked: { url: string; authorization: string | undefined }[] = [];
    const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
      const url = String(input);
      asked.push({ url, authorization: (init?.headers as Record<string, string> | undefined)?.authorization });
      const route = routes[url];
      if (!route) return new Response("no route", { status: 404 });
      return new Response(route.body ?? null, {
        status: route.status,
        headers: { ...(route.location ? { location: route.location } : {}), "content-type": "text/plain" },
      });
    }) as typeof fetch;
    return { asked, fetchFn };
  }

  it("carries the token to Slack's hosts and not to its CDN", async () => {
    const { asked, fetchFn } = scripted({
      "https://files.slack.com/files-pri/T1-F1/download/x.txt": {
        status: 302,
        location: "https://files-edu.slack.com/t/x.txt",
      },
      "https://files-edu.slack.com/t/x.txt": { status: 302, location: "https://a.slack-edge.com/signed/x.txt" },
      "https://a.slack-edge.com/signed/x.txt": { status: 200, body: "file bytes" },
    });
    const data = await downloadSlackFile(
      "https://files.slack.com/files-pri/T1-F1/download/x.txt",
      "xoxb-t",
      SLACK,
      1024,
      fetchFn,
    );
    expect(data.toString()).toBe("file bytes");
    expect(asked.map((a) => a.authorization)).toEqual(["Bearer xoxb-t", "Bearer xoxb-t", undefined]);
  });

  it("never asks a refused destination, and says where it was sent", async () => {
    const { asked, fetchFn } = scripted({
      "https://files.slack.com/x.txt": { status: 302, location: "http://169.254.169.254/latest/meta-data/" },
    });
    const error = await downloadSlackFile("https://files.slack.com/x.txt", "xoxb-t", SLACK, 1024, fetchFn).catch(
      (e: unknown) => e,
    );
    expect(isAppError(error) && error.retryable).toBe(false);
    expect((error as Error).message).toBe(
      "the download was redirected to 169.254.169.254, which is a local or private network address, not one of Slack's file hosts, so I didn't download it.",
    );
    expect(asked.map((a) => a.url)).toEqual(["https://files.slack.com/x.txt"]);

    const first = scripted({});
    await expect(
      downloadSlackFile("https://files.slack.com:8443/x.txt", "xoxb-t", SLACK, 1024, first.fetchFn),
    ).rejects.toThrow(
      "the download link Slack gave me points to files.slack.com:8443, which is not one of Slack's file hosts, so I didn't download it.",
    );
    expect(first.asked).toEqual([]);
  });

  it("follows at most 3 redirects", async () => {
    const hop = (n: number) => `https://files.slack.com/hop/${n}`;
    const routes = Object.fromEntries(
      [0, 1, 2, 3, 4].map((n) => [hop(n), { status: 302, location: hop(n + 1) }]),
    ) as Record<string, { status: number; location?: string; body?: string }>;
    routes[hop(3)] = { status: 200, body: "after three" };
    const three = scripted(routes);
    expect((await downloadSlackFile(hop(0), "xoxb-t", SLACK, 1024, three.fetchFn)).toString()).toBe("after three");
    routes[hop(3)] = { status: 302, location: hop(4) };
    const four = scripted(routes);
    await expect(downloadSlackFile(hop(0), "xoxb-t", SLACK, 1024, four.fetchFn)).rejects.toThrow(
      "the download was redirected more than 3 times, so I stopped following it.",
    );
    expect(four.asked).toHaveLength(4);
  });
});
