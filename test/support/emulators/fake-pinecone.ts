import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Emulator } from "./dynalite.js";

interface StoredVector {
  id: string;
  values: number[];
  metadata: Record<string, unknown>;
}

export interface PineconeRequest {
  method: string;
  path: string;
  namespace: string;
  filter?: unknown;
}

export interface FakePinecone extends Emulator {
  /** Every data-plane request, in order (to check namespace and filter of each call). */
  requests: PineconeRequest[];
  /** The next `times` requests (of `path`, or any) answer `status` (429 Too Many Requests, 503...). */
  fail(status: number, times: number, path?: string): void;
  /** Puts a vector straight into a namespace, bypassing the adapter (to plant a foreign tenant's record). */
  plant(namespace: string, vector: StoredVector): void;
  /** Simulates a broken backend that ignores metadata filters and namespaces in queries. */
  leakAcrossNamespaces: boolean;
  vectors(namespace: string): StoredVector[];
  /** The namespaces that exist (hold at least one record, or were written and not deleted), sorted. */
  namespaces(): string[];
}

/**
 * A small fake of Pinecone's data-plane REST API (the calls the v8 client makes): upsert, update of
 * one record's values and metadata, query with cosine similarity and metadata filters ($eq, $ne, $in,
 * $nin, $and, $or, plain equality; on a list-valued field $in matches when any element is in the set and
 * $nin when none is, as Pinecone does), list by id prefix with pagination, fetch by ids, delete by ids /
 * filter / all, describe_index_stats, and the namespace calls of serverless indexes (list, describe,
 * delete). As on Pinecone, deleting all of a namespace's records deletes the namespace, and a delete or a
 * namespace call naming a namespace that does not exist answers 404 "Namespace not found". Requests need
 * the Api-Key header.
 */
export async function startFakePinecone(apiKey: string): Promise<FakePinecone> {
  const namespaces = new Map<string, Map<string, StoredVector>>();
  const failures: { status: number; remaining: number; path?: string }[] = [];
  const ns = (name: string) => {
    let n = namespaces.get(name);
    if (!n) {
      n = new Map();
      namespaces.set(name, n);
    }
    return n;
  };

  const fake: FakePinecone = {
    endpoint: "",
    requests: [],
    leakAcrossNamespaces: false,
    fail(status, times, path) {
      failures.push({ status, remaining: times, ...(path ? { path } : {}) });
    },
    plant(namespace, vector) {
      ns(namespace).set(vector.id, vector);
    },
    vectors: (namespace) => [...(namespaces.get(namespace)?.values() ?? [])],
    namespaces: () => [...namespaces.keys()].sort(),
    stop: async () => {},
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://localhost");
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(payload));
      };
      if (req.headers["api-key"] !== apiKey) {
        send(401, { code: 16, message: "Invalid API Key" });
        return;
      }
      const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, any>) : {};
      const namespace = String(body.namespace ?? url.searchParams.get("namespace") ?? "");
      fake.requests.push({
        method: req.method ?? "",
        path: url.pathname,
        namespace,
        ...(body.filter ? { filter: body.filter } : {}),
      });
      const failure = failures.find((f) => f.remaining > 0 && (!f.path || f.path === url.pathname));
      if (failure) {
        failure.remaining--;
        send(failure.status, { code: failure.status, message: "injected failure" });
        return;
      }
      switch (`${req.method} ${url.pathname}`) {
        case "POST /vectors/upsert": {
          for (const v of body.vectors as StoredVector[])
            ns(namespace).set(v.id, { id: v.id, values: v.values, metadata: v.metadata ?? {} });
          send(200, { upsertedCount: (body.vectors as unknown[]).length });
          return;
        }
        case "POST /vectors/update": {
          const stored = namespaces.get(namespace)?.get(String(body.id));
          if (stored) {
            if (Array.isArray(body.values) && body.values.length > 0) stored.values = body.values as number[];
            if (body.setMetadata) Object.assign(stored.metadata, body.setMetadata);
          }
          send(200, {});
          return;
        }
        case "POST /query": {
          const pool = fake.leakAcrossNamespaces
            ? [...namespaces.values()].flatMap((n) => [...n.values()])
            : [...(namespaces.get(namespace)?.values() ?? [])];
          const matches = pool
            .filter((v) => fake.leakAcrossNamespaces || matchesFilter(v.metadata, body.filter))
            .map((v) => ({
              id: v.id,
              score: cosine(body.vector as number[], v.values),
              ...(body.includeMetadata ? { metadata: v.metadata } : {}),
            }))
            .sort((x, y) => y.score - x.score)
            .slice(0, Number(body.topK ?? 10));
          send(200, { matches, namespace, usage: { readUnits: 1 } });
          return;
        }
        case "GET /vectors/list": {
          const prefix = url.searchParams.get("prefix") ?? "";
          const limit = Number(url.searchParams.get("limit") ?? 100);
          const start = Number(url.searchParams.get("paginationToken") ?? 0);
          const ids = [...(namespaces.get(namespace)?.keys() ?? [])].filter((id) => id.startsWith(prefix)).sort();
          const page = ids.slice(start, start + limit);
          send(200, {
            vectors: page.map((id) => ({ id })),
            ...(start + limit < ids.length ? { pagination: { next: String(start + limit) } } : {}),
            namespace,
            usage: { readUnits: 1 },
          });
          return;
        }
        case "GET /vectors/fetch": {
          const n = namespaces.get(namespace);
          const found = url.searchParams.getAll("ids").flatMap((id) => {
            const v = n?.get(id);
            return v ? [[id, v] as const] : [];
          });
          send(200, { vectors: Object.fromEntries(found), namespace, usage: { readUnits: 1 } });
          return;
        }
        case "POST /vectors/delete": {
          const n = namespaces.get(namespace);
          if (!n) {
            send(404, NAMESPACE_NOT_FOUND);
            return;
          }
          if (body.deleteAll) namespaces.delete(namespace);
          for (const id of (body.ids as string[] | undefined) ?? []) n.delete(id);
          if (body.filter) for (const [id, v] of n) if (matchesFilter(v.metadata, body.filter)) n.delete(id);
          send(200, {});
          return;
        }
        case "GET /namespaces": {
          const prefix = url.searchParams.get("prefix") ?? "";
          const limit = Number(url.searchParams.get("limit") ?? 100);
          const start = Number(url.searchParams.get("paginationToken") ?? 0);
          const names = fake.namespaces().filter((name) => name.startsWith(prefix));
          send(200, {
            namespaces: names
              .slice(start, start + limit)
              .map((name) => ({ name, record_count: namespaces.get(name)?.size ?? 0 })),
            ...(start + limit < names.length ? { pagination: { next: String(start + limit) } } : {}),
            total_count: names.length,
          });
          return;
        }
        case "POST /describe_index_stats": {
          const counts = Object.fromEntries([...namespaces].map(([name, n]) => [name, { vectorCount: n.size }]));
          send(200, {
            namespaces: counts,
            dimension: 256,
            indexFullness: 0,
            totalVectorCount: [...namespaces.values()].reduce((s, n) => s + n.size, 0),
          });
          return;
        }
        default: {
          const named = /^\/namespaces\/([^/]+)$/.exec(url.pathname);
          const name = named ? decodeURIComponent(named[1] ?? "") : undefined;
          if (name !== undefined && (req.method === "GET" || req.method === "DELETE")) {
            const n = namespaces.get(name);
            if (!n) send(404, NAMESPACE_NOT_FOUND);
            else if (req.method === "GET") send(200, { name, record_count: n.size });
            else {
              namespaces.delete(name);
              send(202, {});
            }
            return;
          }
          send(404, { code: 5, message: `fake Pinecone has no ${req.method} ${url.pathname}` });
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  fake.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.stop = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return fake;
}

const NAMESPACE_NOT_FOUND = { code: 5, message: "Namespace not found", details: [] };

function cosine(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    dot += (a[i] ?? 0) * (b[i] ?? 0);
    na += (a[i] ?? 0) ** 2;
    nb += (b[i] ?? 0) ** 2;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

function matchesFilter(metadata: Record<string, unknown>, filter: unknown): boolean {
  if (!filter || typeof filter !== "object") return true;
  return Object.entries(filter as Record<string, unknown>).every(([key, condition]) => {
    if (key === "$and") return (condition as unknown[]).every((f) => matchesFilter(metadata, f));
    if (key === "$or") return (condition as unknown[]).some((f) => matchesFilter(metadata, f));
    const value = metadata[key];
    if (condition && typeof condition === "object" && !Array.isArray(condition)) {
      return Object.entries(condition as Record<string, unknown>).every(([op, operand]) => {
        if (op === "$eq") return value === operand;
        if (op === "$ne") return value !== operand;
        const values = Array.isArray(value) ? (value as unknown[]) : [value];
        if (op === "$in") return values.some((v) => (operand as unknown[]).includes(v));
        if (op === "$nin") return !values.some((v) => (operand as unknown[]).includes(v));
        return false;
      });
    }
    return value === condition;
  });
}
