import { createHash, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Emulator } from "./dynalite.js";

interface StoredMessage {
  id: string;
  body: string;
  md5: string;
  sentAt: number;
  visibleAt: number;
  receiveCount: number;
  firstReceiveAt?: number;
  handle?: string;
  groupId?: string;
}

interface Queue {
  name: string;
  url: string;
  arn: string;
  attributes: Record<string, string>;
  messages: StoredMessage[];
  dedup: Map<string, number>;
}

export interface FakeSqs extends Emulator {
  /** Messages of a queue by name (tests look into the dead-letter queue). */
  messages(queueName: string): { body: string; receiveCount: number }[];
}

const ACCOUNT = "000000000000";
const md5 = (s: string) => createHash("md5").update(s, "utf8").digest("hex");

/**
 * A small in-memory SQS speaking the AWS JSON 1.0 protocol the v3 SDK uses (`X-Amz-Target:
 * AmazonSQS.<Operation>`): queues with visibility timeouts, long polling, receive counts, redrive to a
 * dead-letter queue after `maxReceiveCount`, FIFO deduplication ids. No SQS emulator on npm installs
 * and runs offline without Java or Docker, and this is all the adapter uses.
 */
export async function startFakeSqs(): Promise<FakeSqs> {
  const queues = new Map<string, Queue>();
  let base = "";
  const byUrl = (url: unknown) => {
    const name =
      String(url ?? "")
        .split("/")
        .at(-1) ?? "";
    return queues.get(name);
  };
  const byArn = (arn: string) => [...queues.values()].find((q) => q.arn === arn);

  const visible = (q: Queue, now: number) => q.messages.filter((m) => m.visibleAt <= now);

  function receive(q: Queue, max: number, visibilitySeconds: number, now: number) {
    const out: StoredMessage[] = [];
    const redrive = q.attributes.RedrivePolicy
      ? (JSON.parse(q.attributes.RedrivePolicy) as { deadLetterTargetArn: string; maxReceiveCount: number })
      : undefined;
    for (const m of visible(q, now)) {
      if (out.length >= max) break;
      if (redrive && m.receiveCount >= Number(redrive.maxReceiveCount)) {
        const dlq = byArn(redrive.deadLetterTargetArn);
        q.messages = q.messages.filter((x) => x !== m);
        if (dlq) dlq.messages.push({ ...m, visibleAt: now, receiveCount: 0, handle: undefined });
        continue;
      }
      m.receiveCount++;
      m.firstReceiveAt ??= now;
      m.handle = `${m.id}:${randomUUID()}`;
      m.visibleAt = now + visibilitySeconds * 1000;
      out.push(m);
    }
    return out;
  }

  const handlers: Record<string, (input: Record<string, any>) => Promise<object> | object> = {
    CreateQueue(input) {
      const name = String(input.QueueName);
      let q = queues.get(name);
      if (!q) {
        q = {
          name,
          url: `${base}/${ACCOUNT}/${name}`,
          arn: `arn:aws:sqs:us-east-1:${ACCOUNT}:${name}`,
          attributes: { VisibilityTimeout: "30", ...(input.Attributes ?? {}) },
          messages: [],
          dedup: new Map(),
        };
        queues.set(name, q);
      }
      return { QueueUrl: q.url };
    },
    GetQueueUrl(input) {
      const q = queues.get(String(input.QueueName));
      if (!q) throw notFound();
      return { QueueUrl: q.url };
    },
    ListQueues() {
      return { QueueUrls: [...queues.values()].map((q) => q.url) };
    },
    GetQueueAttributes(input) {
      const q = byUrl(input.QueueUrl);
      if (!q) throw notFound();
      const now = Date.now();
      const all: Record<string, string> = {
        ...q.attributes,
        QueueArn: q.arn,
        ApproximateNumberOfMessages: String(visible(q, now).length),
        ApproximateNumberOfMessagesNotVisible: String(
          q.messages.filter((m) => m.visibleAt > now && m.receiveCount > 0).length,
        ),
        ApproximateNumberOfMessagesDelayed: String(
          q.messages.filter((m) => m.visibleAt > now && m.receiveCount === 0).length,
        ),
      };
      const names = (input.AttributeNames as string[] | undefined) ?? ["All"];
      return {
        Attributes: names.includes("All")
          ? all
          : Object.fromEntries(names.filter((n) => n in all).map((n) => [n, all[n] ?? ""])),
      };
    },
    SetQueueAttributes(input) {
      const q = byUrl(input.QueueUrl);
      if (!q) throw notFound();
      Object.assign(q.attributes, input.Attributes ?? {});
      return {};
    },
    SendMessage(input) {
      const q = byUrl(input.QueueUrl);
      if (!q) throw notFound();
      const body = String(input.MessageBody);
      const now = Date.now();
      const dedupId = input.MessageDeduplicationId as string | undefined;
      if (dedupId) {
        const seen = q.dedup.get(dedupId);
        if (seen !== undefined && now - seen < 5 * 60_000)
          return { MessageId: randomUUID(), MD5OfMessageBody: md5(body) };
        q.dedup.set(dedupId, now);
      }
      const message: StoredMessage = {
        id: randomUUID(),
        body,
        md5: md5(body),
        sentAt: now,
        visibleAt: now + Number(input.DelaySeconds ?? 0) * 1000,
        receiveCount: 0,
        ...(input.MessageGroupId ? { groupId: String(input.MessageGroupId) } : {}),
      };
      q.messages.push(message);
      return { MessageId: message.id, MD5OfMessageBody: message.md5 };
    },
    async ReceiveMessage(input) {
      const q = byUrl(input.QueueUrl);
      if (!q) throw notFound();
      const max = Math.min(10, Number(input.MaxNumberOfMessages ?? 1));
      const visibility = Number(input.VisibilityTimeout ?? q.attributes.VisibilityTimeout ?? 30);
      const deadline = Date.now() + Number(input.WaitTimeSeconds ?? 0) * 1000;
      for (;;) {
        const now = Date.now();
        const got = receive(q, max, visibility, now);
        if (got.length > 0 || now >= deadline) {
          return {
            Messages: got.map((m) => ({
              MessageId: m.id,
              ReceiptHandle: m.handle,
              MD5OfBody: m.md5,
              Body: m.body,
              Attributes: {
                ApproximateReceiveCount: String(m.receiveCount),
                SentTimestamp: String(m.sentAt),
                ApproximateFirstReceiveTimestamp: String(m.firstReceiveAt ?? now),
                SenderId: ACCOUNT,
              },
            })),
          };
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    DeleteMessage(input) {
      const q = byUrl(input.QueueUrl);
      if (!q) throw notFound();
      q.messages = q.messages.filter((m) => m.handle !== input.ReceiptHandle);
      return {};
    },
    DeleteMessageBatch(input) {
      const q = byUrl(input.QueueUrl);
      if (!q) throw notFound();
      const entries = (input.Entries ?? []) as { Id: string; ReceiptHandle: string }[];
      const handles = new Set(entries.map((e) => e.ReceiptHandle));
      q.messages = q.messages.filter((m) => !m.handle || !handles.has(m.handle));
      return { Successful: entries.map((e) => ({ Id: e.Id })), Failed: [] };
    },
    ChangeMessageVisibility(input) {
      const q = byUrl(input.QueueUrl);
      if (!q) throw notFound();
      const m = q.messages.find((x) => x.handle === input.ReceiptHandle);
      if (m) m.visibleAt = Date.now() + Number(input.VisibilityTimeout ?? 0) * 1000;
      return {};
    },
    PurgeQueue(input) {
      const q = byUrl(input.QueueUrl);
      if (!q) throw notFound();
      q.messages = [];
      return {};
    },
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const operation =
        String(req.headers["x-amz-target"] ?? "")
          .split(".")
          .at(-1) ?? "";
      const handler = handlers[operation];
      const send = (status: number, payload: object, extra: Record<string, string> = {}) => {
        if (res.destroyed) return;
        res.writeHead(status, { "content-type": "application/x-amz-json-1.0", ...extra });
        res.end(JSON.stringify(payload));
      };
      if (!handler) {
        send(400, {
          __type: "com.amazonaws.sqs#UnsupportedOperation",
          message: `fake SQS does not support ${operation}`,
        });
        return;
      }
      try {
        const input = chunks.length
          ? (JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>)
          : {};
        send(200, await handler(input));
      } catch (error) {
        const e = error as { type?: string; message?: string; query?: string };
        send(
          400,
          { __type: `com.amazonaws.sqs#${e.type ?? "InternalError"}`, message: e.message ?? "error" },
          e.query ? { "x-amzn-query-error": e.query } : {},
        );
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint: base,
    messages: (name) => (queues.get(name)?.messages ?? []).map((m) => ({ body: m.body, receiveCount: m.receiveCount })),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function notFound() {
  return Object.assign(new Error("The specified queue does not exist."), {
    type: "QueueDoesNotExist",
    query: "AWS.SimpleQueueService.NonExistentQueue;Sender",
  });
}
