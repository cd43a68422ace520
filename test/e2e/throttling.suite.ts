import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { RateLimiter } from "../../src/ports/rate-limiter.js";
import { type ApiClient, apiClient, confirmIfAsked, waitForDocument } from "../support/server.js";

/** One running shape of the product with its own limiter, reached from client addresses the test picks. */
export interface ThrottleTarget {
  baseUrl: string;
  /**
   * A transport whose requests reach the product from `address`, as the one proxy in front of it
   * reports it (a load balancer's X-Forwarded-For embedded, API Gateway's sourceIp on AWS). A header
   * the client sends itself is passed on, as those proxies do.
   */
  from(address: string): typeof fetch;
  /** The code a sign-up's confirmation email carried (Cognito); absent where accounts need no confirmation. */
  confirmationCode?: (email: string) => Promise<string>;
  /** The limiter the product counts with (its clock is moved forward instead of waiting windows out). */
  limiter: RateLimiter;
  stop(): Promise<void>;
}

/** Small limits, so that the suite reaches them quickly; the login limits are the product's defaults. */
export const THROTTLING_SUITE_SETTINGS = {
  SIGNUP_RATE_LIMIT_PER_HOUR: "3",
  RATE_LIMIT_USER_PER_MINUTE: "2",
  RATE_LIMIT_TENANT_PER_MINUTE: "3",
  LOGIN_MAX_FAILURES: "10",
  LOGIN_LOCKOUT_MINUTES: "15",
};

const HOUR = 3600_000;

/**
 * Moves the limiter's clock forward: the product keeps counting with Date.now() plus an offset, so a
 * 15-minute lock-out can be seen to end without waiting 15 minutes. Only the limiter's time moves
 * (tokens and everything else keep the real clock).
 */
function movableClock(limiter: RateLimiter): { advance(ms: number): void; toNextHour(): void } {
  let offset = 0;
  const take = limiter.take.bind(limiter);
  const giveBack = limiter.giveBack.bind(limiter);
  limiter.take = (limits, now) => take(limits, (now ?? Date.now()) + offset);
  limiter.giveBack = (limits, now) => giveBack(limits, now + offset);
  return {
    advance: (ms) => {
      offset += ms;
    },
    toNextHour: () => {
      const now = Date.now() + offset;
      offset += Math.ceil(now / HOUR) * HOUR + 1000 - now;
    },
  };
}

const PASSWORD = "Correct-horse-9";
const WRONG = "Wrong-horse-9";

/** Private client addresses, one block per test (250: where each test account signed up). */
const address = (block: number, host: number) => `10.${block}.0.${host}`;

/**
 * The throttling suite, run unchanged against each shape: the embedded server over HTTP
 * (throttling.test.ts) and the AWS shape through its Lambda handlers (throttling.aws.test.ts).
 * Each starts its own server: a locked-out address must not be one another suite logs in from.
 */
export function describeThrottling(name: string, start: () => Promise<ThrottleTarget>) {
  let target: ThrottleTarget;
  let clock: ReturnType<typeof movableClock>;
  let accounts = 0;
  const client = (from: string, token?: string): ApiClient => apiClient(target.baseUrl, token, target.from(from));

  /** A confirmed account of a new organisation, signed up from an address of its own. */
  async function newAccount(label: string): Promise<{ email: string }> {
    accounts++;
    const email = `${label}-${accounts}-${Date.now()}@throttle.example`;
    const anon = client(address(250, accounts));
    const signup = await anon.call("POST", "/auth/signup", { email, password: PASSWORD, organization: label });
    expect(signup.status, JSON.stringify(signup.json)).toBe(201);
    await confirmIfAsked(anon, signup, email, target);
    return { email };
  }

  const logIn = (email: string, password: string, from: string, headers: Record<string, string> = {}) =>
    client(from).call("POST", "/auth/login", { email, password }, headers);

  /** The status and error code of a response, as one value: a failed expectation shows both. */
  const outcome = (res: { status: number; json: any }) => `${res.status} ${res.json?.error?.code ?? "ok"}`;

  /** The lock-out a user sees: 429 too_many_attempts, a wait in minutes, and Retry-After in seconds. */
  async function expectLockedOut(email: string, password: string, from: string, headers?: Record<string, string>) {
    const res = await target
      .from(from)(`${target.baseUrl}/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({ email, password }),
      })
      .then(async (r) => ({ status: r.status, headers: r.headers, json: (await r.json()) as any }));
    expect(outcome(res)).toBe("429 too_many_attempts");
    const retryAfter = Number(res.headers.get("retry-after"));
    expect(Number.isInteger(retryAfter), `Retry-After: ${res.headers.get("retry-after")}`).toBe(true);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(15 * 60);
    const minutes = Math.ceil(retryAfter / 60);
    expect(res.json.error.message).toBe(
      `Too many failed log-ins. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`,
    );
    return retryAfter;
  }

  describe(`throttling: ${name}`, () => {
    beforeAll(async () => {
      target = await start();
      clock = movableClock(target.limiter);
    });

    // Every test starts just after the top of an hour on the limiter's clock: no fixed window (DynamoDB
    // counts per window of the clock) rolls over during a test, and no test sees another's counts.
    beforeEach(() => clock.toNextHour());

    afterAll(async () => {
      await target?.stop();
    });

    describe("log-in", () => {
      it("locks an account out after 10 failures, right password included, until the window passes", async () => {
        const victim = await newAccount("victim");
        const bystander = await newAccount("bystander");
        const attacker = address(1, 1);
        for (let i = 1; i <= 10; i++) {
          const res = await logIn(victim.email, WRONG, attacker);
          expect(outcome(res), `failure ${i}`).toBe("401 invalid_credentials");
          expect(res.json.error.message).toBe("Email or password is incorrect.");
        }
        await expectLockedOut(victim.email, WRONG, attacker);
        // The right password gains nothing while locked out: not from the attacker's address, nor from another.
        await expectLockedOut(victim.email, PASSWORD, attacker);
        const retryAfter = await expectLockedOut(victim.email, PASSWORD, address(1, 2));
        // The lock-out is the victim's (and the attacker address's): another account logs in as usual.
        expect(outcome(await logIn(bystander.email, PASSWORD, address(1, 3)))).toBe("200 ok");

        // Just before the wait the header announced is over, still locked; once it is, the right password works.
        clock.advance((retryAfter - 5) * 1000);
        expect(await expectLockedOut(victim.email, PASSWORD, address(1, 2))).toBeLessThanOrEqual(5);
        clock.advance(5_000);
        const login = await logIn(victim.email, PASSWORD, address(1, 2));
        expect(outcome(login)).toBe("200 ok");
        expect(login.json.id_token).toEqual(expect.any(String));
        // The window passed for the attacker's address too: its failures start counting from zero again.
        expect(outcome(await logIn(victim.email, WRONG, attacker))).toBe("401 invalid_credentials");
      });

      it("locks an address out after 10 failures over several accounts, but not those accounts elsewhere", async () => {
        const targets = await Promise.all([1, 2, 3, 4, 5].map(() => newAccount("spread")));
        const other = await newAccount("other");
        const attacker = address(2, 1);
        const elsewhere = address(2, 2);
        for (const [i, account] of [...targets, ...targets].entries()) {
          const res = await logIn(account.email, WRONG, attacker);
          expect(outcome(res), `failure ${i + 1}`).toBe("401 invalid_credentials");
        }
        // Every account is locked from this address, even with its right password, though none failed 10 times.
        await expectLockedOut(other.email, PASSWORD, attacker);
        await expectLockedOut(targets[0]!.email, PASSWORD, attacker);
        // Naming another address in X-Forwarded-For does not get the client out of its lock-out.
        await expectLockedOut(other.email, PASSWORD, attacker, { "x-forwarded-for": address(2, 99) });
        expect(outcome(await logIn(other.email, PASSWORD, address(2, 99)))).toBe("200 ok");
        // From another address the same accounts log in: each failed twice, far from its own limit.
        expect(outcome(await logIn(other.email, PASSWORD, elsewhere))).toBe("200 ok");
        expect(outcome(await logIn(targets[0]!.email, PASSWORD, elsewhere))).toBe("200 ok");
        // Each account still counts its failures: 8 more (from anywhere) make 10, and then it is locked out.
        const account = targets[1]!;
        for (let i = 3; i <= 10; i++)
          expect(outcome(await logIn(account.email, WRONG, address(2, 10 + i))), `failure ${i}`).toBe(
            "401 invalid_credentials",
          );
        await expectLockedOut(account.email, PASSWORD, elsewhere);
      });

      it("tries at most 10 of many guesses sent at once, and does not count successful log-ins", async () => {
        const burst = await newAccount("burst");
        const results = await Promise.all(
          Array.from({ length: 30 }, () => logIn(burst.email, WRONG, address(5, 1)).then(outcome)),
        );
        expect(results.filter((r) => r === "401 invalid_credentials")).toHaveLength(10);
        expect(results.filter((r) => r === "429 too_many_attempts")).toHaveLength(20);
        await expectLockedOut(burst.email, PASSWORD, address(5, 2));

        const forgetful = await newAccount("forgetful");
        const from = address(5, 3);
        for (let i = 1; i <= 9; i++)
          expect(outcome(await logIn(forgetful.email, WRONG, from))).toBe("401 invalid_credentials");
        for (let i = 1; i <= 3; i++) expect(outcome(await logIn(forgetful.email, PASSWORD, from))).toBe("200 ok");
        expect(outcome(await logIn(forgetful.email, WRONG, from)), "failure 10").toBe("401 invalid_credentials");
        await expectLockedOut(forgetful.email, PASSWORD, from);
      });
    });

    describe("sign-up", () => {
      it("allows 3 sign-ups per address and hour, taken emails included, then asks to wait; other addresses still sign up", async () => {
        const from = address(3, 1);
        const first = `signup-1-${Date.now()}@throttle.example`;
        const signUp = (at: string, n: number, email = `signup-${n}-${Date.now()}@throttle.example`) =>
          client(at).call("POST", "/auth/signup", { email, password: PASSWORD, organization: `Signup ${n}` });
        expect(outcome(await signUp(from, 1, first)), "sign-up 1").toBe("201 ok");
        // The second uses the first one's email: answered alike, and counted alike.
        expect(outcome(await signUp(from, 2, first)), "sign-up 2, a taken email").toBe("201 ok");
        expect(outcome(await signUp(from, 3)), "sign-up 3").toBe("201 ok");
        const res = await target.from(from)(`${target.baseUrl}/auth/signup`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            email: `signup-4-${Date.now()}@throttle.example`,
            password: PASSWORD,
            organization: "4",
          }),
        });
        const body = (await res.json()) as any;
        expect(`${res.status} ${body.error?.code}`).toBe("429 rate_limited");
        expect(body.error.message).toBe("Too many sign-ups from your network. Please try again later.");
        const retryAfter = Number(res.headers.get("retry-after"));
        expect(Number.isInteger(retryAfter), `Retry-After: ${res.headers.get("retry-after")}`).toBe(true);
        expect(retryAfter).toBeGreaterThan(0);
        expect(retryAfter).toBeLessThanOrEqual(3600);
        expect(outcome(await signUp(address(3, 2), 5))).toBe("201 ok");
      });
    });

    describe("questions", () => {
      it("limits questions per user and per organisation per minute, and audits only the answered ones", async () => {
        const from = address(4, 1);
        const admin = await newAccount("asking");
        const adminClient = client(from, (await logIn(admin.email, PASSWORD, from)).json.id_token);
        const upload = await adminClient.upload(
          "parking.txt",
          "Visitors park in the north garage. The parking office closes at six in the evening.",
          "text/plain",
        );
        expect(upload.status).toBe(202);
        expect((await waitForDocument(adminClient, upload.json.document.id)).status).toBe("ready");
        const invite = await adminClient.call("POST", "/api/invites");
        const memberEmail = `member-${Date.now()}@throttle.example`;
        const anon = client(from);
        const joined = await anon.call("POST", "/auth/signup", {
          email: memberEmail,
          password: PASSWORD,
          invite_code: invite.json.code,
        });
        expect(joined.status).toBe(201);
        await confirmIfAsked(anon, joined, memberEmail, target);
        const memberClient = client(from, (await logIn(memberEmail, PASSWORD, from)).json.id_token);

        const ask = async (who: ApiClient, question: string) => {
          const res = await target.from(from)(`${target.baseUrl}/api/ask`, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${who.token}` },
            body: JSON.stringify({ question }),
          });
          return { status: res.status, retryAfter: res.headers.get("retry-after"), json: (await res.json()) as any };
        };
        const expectRefused = (res: Awaited<ReturnType<typeof ask>>, who: string) => {
          expect(outcome(res)).toBe("429 rate_limited");
          const seconds = Number(res.retryAfter);
          expect(Number.isInteger(seconds), `Retry-After: ${res.retryAfter}`).toBe(true);
          expect(seconds).toBeGreaterThan(0);
          expect(seconds).toBeLessThanOrEqual(60);
          expect(res.json.error.message).toBe(
            `${who} more questions than I can take right now. Please try again in ${seconds} second${seconds === 1 ? "" : "s"}.`,
          );
        };

        for (const question of ["Where do visitors park?", "When does the parking office close?"]) {
          const res = await ask(adminClient, question);
          expect(outcome(res), question).toBe("200 ok");
          expect(res.json.outcome).toBe("answered");
        }
        // The admin's third question within the minute is the person's limit (2).
        expectRefused(await ask(adminClient, "Refused: is there a parking fee?"), "You're asking");
        // A colleague still gets answers, until the organisation's limit (3) is reached.
        const colleague = await ask(memberClient, "Which garage do visitors use?");
        expect(outcome(colleague)).toBe("200 ok");
        expect(colleague.json.outcome).toBe("answered");
        expectRefused(await ask(memberClient, "Refused: can I park overnight?"), "Your organisation is asking");

        const audit = await adminClient.call("GET", "/api/audit?limit=50");
        expect(audit.status).toBe(200);
        expect(audit.json.records.map((r: { question: string }) => r.question)).toEqual([
          "Which garage do visitors use?",
          "When does the parking office close?",
          "Where do visitors park?",
        ]);

        // A minute on, both may ask again.
        clock.advance(60_000);
        expect(outcome(await ask(adminClient, "Where do visitors park?"))).toBe("200 ok");
        expect(outcome(await ask(memberClient, "Where do visitors park?"))).toBe("200 ok");
      });
    });
  });
}
