import { createHash, randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";

/**
 * Slack's Socket Mode end, enough for @slack/socket-mode: a minimal WebSocket server (RFC 6455 text,
 * ping/pong and close frames) that greets with `hello`, pushes envelopes and records the acks.
 * Redelivering an envelope (same event, new envelope id, retry_attempt + 1) is what Slack does when an
 * ack is late.
 */
export interface Envelope {
  envelope_id: string;
  type: "events_api" | "slash_commands" | "interactive";
  payload: unknown;
  accepts_response_payload: boolean;
  retry_attempt?: number;
  retry_reason?: string;
}

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

class Connection {
  private buffer = Buffer.alloc(0);
  open = true;

  constructor(
    private readonly socket: Duplex,
    private readonly onText: (text: string) => void,
  ) {
    socket.on("data", (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.drain();
    });
    socket.on("close", () => {
      this.open = false;
    });
    socket.on("error", () => {
      this.open = false;
    });
  }

  sendText(text: string): void {
    this.frame(0x1, Buffer.from(text, "utf8"));
  }

  close(): void {
    if (!this.open) return;
    this.frame(0x8, Buffer.from([0x03, 0xe8]));
    this.open = false;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 100).unref();
  }

  private frame(opcode: number, payload: Buffer): void {
    if (!this.open && opcode !== 0x8) return;
    const length = payload.length;
    const header =
      length < 126
        ? Buffer.from([0x80 | opcode, length])
        : length < 65536
          ? Buffer.from([0x80 | opcode, 126, length >> 8, length & 0xff])
          : Buffer.concat([Buffer.from([0x80 | opcode, 127]), bigLength(length)]);
    this.socket.write(Buffer.concat([header, payload]));
  }

  private drain(): void {
    for (;;) {
      if (this.buffer.length < 2) return;
      const b0 = this.buffer[0] ?? 0;
      const b1 = this.buffer[1] ?? 0;
      const opcode = b0 & 0x0f;
      const masked = (b1 & 0x80) !== 0;
      let length = b1 & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (this.buffer.length < 4) return;
        length = this.buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this.buffer.length < 10) return;
        length = Number(this.buffer.readBigUInt64BE(2));
        offset = 10;
      }
      const maskOffset = offset;
      if (masked) offset += 4;
      if (this.buffer.length < offset + length) return;
      const payload = Buffer.from(this.buffer.subarray(offset, offset + length));
      if (masked) {
        const mask = this.buffer.subarray(maskOffset, maskOffset + 4);
        for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] ?? 0) ^ (mask[i % 4] ?? 0);
      }
      this.buffer = this.buffer.subarray(offset + length);
      if (opcode === 0x1) this.onText(payload.toString("utf8"));
      else if (opcode === 0x9) this.frame(0xa, payload);
      else if (opcode === 0x8) this.close();
    }
  }
}

function bigLength(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

export class FakeSocketModeServer {
  private readonly connections: Connection[] = [];
  readonly acks: { envelope_id: string; payload?: unknown; at: number }[] = [];
  readonly sent: Envelope[] = [];
  connectionCount = 0;

  upgrade(req: IncomingMessage, socket: Duplex, _head: Buffer): void {
    const key = req.headers["sec-websocket-key"];
    if (!req.url?.startsWith("/socket-mode") || typeof key !== "string") {
      socket.end("HTTP/1.1 400 Bad Request\r\n\r\n");
      return;
    }
    const accept = createHash("sha1")
      .update(key + GUID)
      .digest("base64");
    socket.write(
      [
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        `Sec-WebSocket-Accept: ${accept}`,
        "",
        "",
      ].join("\r\n"),
    );
    const connection = new Connection(socket, (text) => {
      try {
        const message = JSON.parse(text) as { envelope_id?: string; payload?: unknown };
        if (message.envelope_id)
          this.acks.push({ envelope_id: message.envelope_id, payload: message.payload, at: Date.now() });
      } catch {
        // not ours to judge
      }
    });
    this.connections.push(connection);
    this.connectionCount++;
    connection.sendText(
      JSON.stringify({
        type: "hello",
        num_connections: 1,
        debug_info: { host: "fake-slack", approximate_connection_time: 18060 },
        connection_info: { app_id: "A0FAKEAPP" },
      }),
    );
  }

  get connected(): boolean {
    return this.connections.some((c) => c.open);
  }

  /** Pushes an envelope on the open connection; returns its envelope id. */
  send(
    envelope: Omit<Envelope, "envelope_id" | "accepts_response_payload"> &
      Partial<Pick<Envelope, "envelope_id" | "accepts_response_payload">>,
  ): string {
    const full: Envelope = {
      envelope_id: envelope.envelope_id ?? randomUUID(),
      accepts_response_payload: envelope.accepts_response_payload ?? envelope.type !== "events_api",
      ...envelope,
    };
    const connection = this.connections.findLast((c) => c.open);
    if (!connection) throw new Error("no Socket Mode connection");
    this.sent.push(full);
    connection.sendText(JSON.stringify(full));
    return full.envelope_id;
  }

  ackFor(envelopeId: string) {
    return this.acks.find((a) => a.envelope_id === envelopeId);
  }

  closeAll(): void {
    for (const c of this.connections) c.close();
  }
}
