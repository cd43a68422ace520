import { BlockList, isIP } from "node:net";
import type { SlackSettings } from "./settings.js";

/**
 * Where a Slack file download may go. Every hop is checked, the `url_private_download` from files.info
 * included (it is as untrusted as any redirect):
 * - exactly SLACK_API_URL's origin (scheme, host and port; the fake Slack on 127.0.0.1 in tests), or
 * - https on the default port to one of Slack's file hosts by name (slack.com, slack-files.com and their
 *   subdomains, *.slack-edge.com), never an IP literal;
 * and never to credentials in the URL, nor a loopback, link-local, private or unspecified address
 * (IPv4, IPv6, IPv4-mapped IPv6) or a name like localhost, unless it is exactly SLACK_API_URL's origin.
 * The bot token goes only where `isTokenHost` says (Slack's CDN hosts get none).
 */
export type FileDestination =
  | { allowed: true; token: boolean }
  | { allowed: false; why: "local_address" | "not_slack"; host: string };

export function fileDestination(url: URL, settings: Pick<SlackSettings, "apiUrl">): FileDestination {
  const host = displayHost(url);
  // Userinfo (https://files.slack.com@127.0.0.1/) only disguises where a URL goes; Slack never sends it.
  if (url.username || url.password) return { allowed: false, why: "not_slack", host };
  if (url.origin === new URL(settings.apiUrl).origin) return { allowed: true, token: true };
  const name = hostName(url);
  if (isLocalHost(name)) return { allowed: false, why: "local_address", host };
  if (url.protocol !== "https:" || url.port !== "" || isIP(name) !== 0 || !isSlackFileHost(name))
    return { allowed: false, why: "not_slack", host };
  return { allowed: true, token: isTokenHost(url, settings) };
}

/**
 * Where a file download may carry the bot token: https on the default port to slack.com or a subdomain,
 * or exactly the origin (scheme, host and port) of a configured SLACK_API_URL (a self-hosted gateway,
 * the fake Slack in tests). Everything else (Slack's CDN hosts, another port, anywhere) gets no token.
 */
export function isTokenHost(url: URL, settings: Pick<SlackSettings, "apiUrl">): boolean {
  if (url.username || url.password) return false;
  if (url.origin === new URL(settings.apiUrl).origin) return true;
  const host = hostName(url);
  return url.protocol === "https:" && url.port === "" && (host === "slack.com" || host.endsWith(".slack.com"));
}

/** The URL's host name, lower case, without IPv6 brackets or a trailing dot (files.slack.com. is files.slack.com). */
export function hostName(url: URL): string {
  return url.hostname
    .toLowerCase()
    .replace(/^\[(.*)\]$/, "$1")
    .replace(/\.$/, "");
}

function isSlackFileHost(name: string): boolean {
  return (
    name === "slack.com" ||
    name.endsWith(".slack.com") ||
    name === "slack-files.com" ||
    name.endsWith(".slack-files.com") ||
    name.endsWith(".slack-edge.com")
  );
}

const INTERNAL = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8], // "this network", 0.0.0.0 included
  ["10.0.0.0", 8],
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8],
  ["169.254.0.0", 16], // link-local, cloud metadata services
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
] as const)
  INTERNAL.addSubnet(net, prefix, "ipv4");
for (const [net, prefix] of [
  ["::", 96], // unspecified, loopback, IPv4-compatible (IPv4-mapped ::ffff:0:0/96 is checked as IPv4 by BlockList)
  ["64:ff9b::", 96], // NAT64 of an IPv4 address
  ["fc00::", 7], // unique local
  ["fe80::", 10], // link-local
  ["fec0::", 10], // site-local (deprecated)
  ["ff00::", 8], // multicast
] as const)
  INTERNAL.addSubnet(net, prefix, "ipv6");

/** Loopback, link-local, private, unspecified or reserved addresses, and local names such as localhost. */
export function isLocalHost(name: string): boolean {
  const version = isIP(name);
  if (version === 4) return INTERNAL.check(name, "ipv4");
  if (version === 6) return INTERNAL.check(name, "ipv6");
  return name === "localhost" || name.endsWith(".localhost") || name.endsWith(".local") || name.endsWith(".internal");
}

/** host[:port] as the sharer may be shown it (no credentials, bounded). */
function displayHost(url: URL): string {
  return url.host.slice(0, 100);
}
