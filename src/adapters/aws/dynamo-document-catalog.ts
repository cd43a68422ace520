import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { dedupeScope, ORGANISATION, type Visibility } from "../../domain/access.js";
import type { DocumentRecord } from "../../domain/documents.js";
import { AppError } from "../../domain/errors.js";
import type { TenantId } from "../../domain/tenant.js";
import type { DocumentCatalog, NewDocument, StatusPatch } from "../../ports/document-catalog.js";
import { legacyVisibility, visibilitySchema } from "../shared/stored-visibility.js";
import { guarded } from "./aws-errors.js";
import { conditional, isConditionFailure, queryAll, tenantPk } from "./dynamo.js";
import type { TenantClients } from "./tenant-credentials.js";

const WHAT = "The document catalogue";

const sourceSchema = z.union([
  z.object({ kind: z.literal("upload") }),
  z.object({ kind: z.literal("cli") }),
  z.object({
    kind: z.literal("slack"),
    teamId: z.string(),
    fileId: z.string(),
    channelId: z.string().optional(),
    messageTs: z.string().optional(),
    permalink: z.string().optional(),
  }),
]);

const itemSchema = z.object({
  sk: z.string(),
  tenantId: z.string(),
  title: z.string(),
  contentType: z.string(),
  sizeBytes: z.number(),
  sha256: z.string(),
  status: z.enum(["queued", "indexing", "ready", "failed"]),
  errorCode: z.string().optional(),
  errorMessage: z.string().optional(),
  pages: z.number(),
  chunks: z.number(),
  source: sourceSchema,
  visibility: visibilitySchema.optional(),
  scope: z.string().optional(),
  uploadedBy: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

type Item = z.infer<typeof itemSchema>;

/** Items written before documents had a visibility read back with the rule the SQLite migration applied. */
const visibilityOf = (i: Item): Visibility => i.visibility ?? legacyVisibility(i.source, i.uploadedBy);
/** The dedupe scope fixed at creation; an old item's is that of its legacy visibility, whatever it has since. */
const scopeOf = (i: Item): string => i.scope ?? dedupeScope(legacyVisibility(i.source, i.uploadedBy));

function toRecord(item: unknown): DocumentRecord {
  return recordOf(itemSchema.parse(item));
}

function recordOf(i: Item): DocumentRecord {
  const record: DocumentRecord = {
    id: i.sk,
    tenantId: i.tenantId as TenantId,
    title: i.title,
    contentType: i.contentType,
    sizeBytes: i.sizeBytes,
    sha256: i.sha256,
    status: i.status,
    pages: i.pages,
    chunks: i.chunks,
    source: i.source,
    visibility: visibilityOf(i),
    uploadedBy: i.uploadedBy,
    createdAt: i.createdAt,
    updatedAt: i.updatedAt,
  };
  if (i.errorCode)
    record.error = { code: i.errorCode as NonNullable<DocumentRecord["error"]>["code"], message: i.errorMessage ?? "" };
  return record;
}

const slackSk = (teamId: string, fileId: string) => `${teamId}#${fileId}`;
/** The organisation scope keeps the bare hash, as every marker had before scopes existed. */
const hashSk = (scope: string, sha256: string) => (scope === dedupeScope(ORGANISATION) ? sha256 : `${scope}#${sha256}`);

/**
 * Documents in DynamoDB. Items of one tenant:
 *   `<tenant>#doc`       / `<document id>`       the record
 *   `<tenant>#hash`      / `<sha256>`            content-hash marker -> document id, organisation scope
 *   `<tenant>#hash`      / `<scope>#<sha256>`    the same for any other dedupe scope (dedupeScope)
 *   `<tenant>#slackfile` / `<team>#<file>`       Slack file marker -> document id
 * Markers are written after the record and point at it, so a marker never names a record that was not
 * written; a marker left behind by an interrupted delete, or naming a document of another scope (an item
 * from before scopes), is taken over by the next create. Records carry `visibility` and `scope`; older
 * records without them read back as legacyVisibility says. (Conditional puts rather than
 * TransactWriteItems: same guarantee here, and the emulator, dynalite, has no transactions.)
 */
export class DynamoDocumentCatalog implements DocumentCatalog {
  constructor(
    private readonly clients: TenantClients<DynamoDBDocumentClient>,
    private readonly table: string,
  ) {}

  private db(tenant: TenantId) {
    return this.clients.forTenant(tenant);
  }

  async create(tenant: TenantId, doc: NewDocument): Promise<{ document: DocumentRecord; created: boolean }> {
    return guarded(WHAT, async () => {
      const now = new Date().toISOString();
      const scope = dedupeScope(doc.visibility);
      const markerSk = hashSk(scope, doc.sha256);
      const item = {
        pk: tenantPk(tenant, "doc"),
        sk: doc.id,
        tenantId: tenant,
        title: doc.title,
        contentType: doc.contentType,
        sizeBytes: doc.sizeBytes,
        sha256: doc.sha256,
        status: "queued",
        pages: 0,
        chunks: 0,
        source: doc.source,
        visibility: doc.visibility,
        scope,
        uploadedBy: doc.uploadedBy,
        createdAt: now,
        updatedAt: now,
      };
      await this.db(tenant).send(
        new PutCommand({ TableName: this.table, Item: item, ConditionExpression: "attribute_not_exists(pk)" }),
      );
      const document = toRecord(item);
      for (let round = 0; round < 5; round++) {
        const claimed = await conditional(() =>
          this.db(tenant).send(
            new PutCommand({
              TableName: this.table,
              Item: { pk: tenantPk(tenant, "hash"), sk: markerSk, docId: doc.id },
              ConditionExpression: "attribute_not_exists(pk)",
            }),
          ),
        );
        if (claimed) {
          await this.putSlackMarker(tenant, document);
          return { document, created: true };
        }
        const marker = await this.getItem(tenant, tenantPk(tenant, "hash"), markerSk);
        const existingId = typeof marker?.docId === "string" ? marker.docId : undefined;
        const existing = existingId ? await this.getParsed(tenant, existingId) : undefined;
        if (existing && scopeOf(existing) === scope) {
          await this.db(tenant).send(
            new DeleteCommand({ TableName: this.table, Key: { pk: tenantPk(tenant, "doc"), sk: doc.id } }),
          );
          return { document: recordOf(existing), created: false };
        }
        // A marker whose record is gone (an interrupted delete) or is of another scope: take it over, unless
        // someone else just did.
        const tookOver = await conditional(() =>
          this.db(tenant).send(
            new PutCommand({
              TableName: this.table,
              Item: { pk: tenantPk(tenant, "hash"), sk: markerSk, docId: doc.id },
              ConditionExpression: "attribute_not_exists(pk) OR docId = :stale",
              ExpressionAttributeValues: { ":stale": existingId ?? "" },
            }),
          ),
        );
        if (tookOver) {
          await this.putSlackMarker(tenant, document);
          return { document, created: true };
        }
      }
      throw new AppError("conflict", "This file is being added right now. Try again in a moment.");
    });
  }

  async get(tenant: TenantId, id: string): Promise<DocumentRecord | undefined> {
    return guarded(WHAT, async () => {
      const item = await this.getParsed(tenant, id);
      return item ? recordOf(item) : undefined;
    });
  }

  async findBySlackFile(tenant: TenantId, teamId: string, fileId: string): Promise<DocumentRecord | undefined> {
    return guarded(WHAT, async () => {
      const marker = await this.getItem(tenant, tenantPk(tenant, "slackfile"), slackSk(teamId, fileId));
      if (typeof marker?.docId !== "string") return undefined;
      return this.get(tenant, marker.docId);
    });
  }

  async list(tenant: TenantId): Promise<DocumentRecord[]> {
    return guarded(WHAT, async () => {
      const items = await queryAll(this.db(tenant), {
        TableName: this.table,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": tenantPk(tenant, "doc") },
      });
      return items
        .map(toRecord)
        .sort((x, y) => (x.createdAt === y.createdAt ? (x.id < y.id ? 1 : -1) : x.createdAt < y.createdAt ? 1 : -1));
    });
  }

  async update(tenant: TenantId, id: string, patch: StatusPatch): Promise<DocumentRecord | undefined> {
    return guarded(WHAT, async () => {
      const before = patch.sha256 !== undefined ? await this.getParsed(tenant, id) : undefined;
      const newHash = before && patch.sha256 !== undefined && patch.sha256 !== before.sha256 ? patch.sha256 : undefined;
      if (newHash && before) {
        const claimed = await conditional(() =>
          this.db(tenant).send(
            new PutCommand({
              TableName: this.table,
              Item: { pk: tenantPk(tenant, "hash"), sk: hashSk(scopeOf(before), newHash), docId: id },
              ConditionExpression: "attribute_not_exists(pk) OR docId = :id",
              ExpressionAttributeValues: { ":id": id },
            }),
          ),
        );
        if (!claimed) throw new AppError("conflict", "Another document already has this content.");
      }
      const names: Record<string, string> = { "#status": "status" };
      const values: Record<string, unknown> = { ":status": patch.status, ":now": new Date().toISOString() };
      const sets = ["#status = :status", "updatedAt = :now"];
      const removes: string[] = [];
      for (const [field, value] of [
        ["pages", patch.pages],
        ["chunks", patch.chunks],
        ["title", patch.title],
        ["sha256", patch.sha256],
        ["sizeBytes", patch.sizeBytes],
      ] as const) {
        if (value === undefined) continue;
        names[`#${field}`] = field;
        values[`:${field}`] = value;
        sets.push(`#${field} = :${field}`);
      }
      if (patch.error === null) removes.push("errorCode", "errorMessage");
      else if (patch.error) {
        values[":errorCode"] = patch.error.code;
        values[":errorMessage"] = patch.error.message;
        sets.push("errorCode = :errorCode", "errorMessage = :errorMessage");
      }
      let attributes: Record<string, unknown> | undefined;
      try {
        const result = await this.db(tenant).send(
          new UpdateCommand({
            TableName: this.table,
            Key: { pk: tenantPk(tenant, "doc"), sk: id },
            UpdateExpression: `SET ${sets.join(", ")}${removes.length ? ` REMOVE ${removes.join(", ")}` : ""}`,
            ConditionExpression: "attribute_exists(pk)",
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
            ReturnValues: "ALL_NEW",
          }),
        );
        attributes = result.Attributes as Record<string, unknown> | undefined;
      } catch (error) {
        if (isConditionFailure(error)) return undefined;
        throw error;
      }
      if (newHash && before) await this.deleteMarker(tenant, "hash", hashSk(scopeOf(before), before.sha256), id);
      return attributes ? toRecord(attributes) : undefined;
    });
  }

  async delete(tenant: TenantId, id: string): Promise<boolean> {
    return guarded(WHAT, async () => {
      const result = await this.db(tenant).send(
        new DeleteCommand({
          TableName: this.table,
          Key: { pk: tenantPk(tenant, "doc"), sk: id },
          ReturnValues: "ALL_OLD",
        }),
      );
      if (!result.Attributes) return false;
      const item = itemSchema.parse(result.Attributes);
      const record = recordOf(item);
      await this.deleteMarker(tenant, "hash", hashSk(scopeOf(item), record.sha256), id);
      if (record.source.kind === "slack")
        await this.deleteMarker(tenant, "slackfile", slackSk(record.source.teamId, record.source.fileId), id);
      return true;
    });
  }

  async setVisibility(tenant: TenantId, id: string, visibility: Visibility): Promise<DocumentRecord | undefined> {
    return guarded(WHAT, async () => {
      try {
        // The scope is left as it was: it names the marker this record holds.
        const result = await this.db(tenant).send(
          new UpdateCommand({
            TableName: this.table,
            Key: { pk: tenantPk(tenant, "doc"), sk: id },
            UpdateExpression: "SET visibility = :visibility, updatedAt = :now",
            ConditionExpression: "attribute_exists(pk)",
            ExpressionAttributeValues: { ":visibility": visibility, ":now": new Date().toISOString() },
            ReturnValues: "ALL_NEW",
          }),
        );
        return result.Attributes ? toRecord(result.Attributes) : undefined;
      } catch (error) {
        if (isConditionFailure(error)) return undefined;
        throw error;
      }
    });
  }

  private async getParsed(tenant: TenantId, id: string): Promise<Item | undefined> {
    const item = await this.getItem(tenant, tenantPk(tenant, "doc"), id);
    return item ? itemSchema.parse(item) : undefined;
  }

  private async putSlackMarker(tenant: TenantId, document: DocumentRecord): Promise<void> {
    if (document.source.kind !== "slack") return;
    await this.db(tenant).send(
      new PutCommand({
        TableName: this.table,
        Item: {
          pk: tenantPk(tenant, "slackfile"),
          sk: slackSk(document.source.teamId, document.source.fileId),
          docId: document.id,
        },
      }),
    );
  }

  /** Removes a marker only while it still points at `docId`. */
  private async deleteMarker(tenant: TenantId, kind: string, sk: string, docId: string): Promise<void> {
    await conditional(() =>
      this.db(tenant).send(
        new DeleteCommand({
          TableName: this.table,
          Key: { pk: tenantPk(tenant, kind), sk },
          ConditionExpression: "docId = :id",
          ExpressionAttributeValues: { ":id": docId },
        }),
      ),
    );
  }

  private async getItem(tenant: TenantId, pk: string, sk: string): Promise<Record<string, unknown> | undefined> {
    const result = await this.db(tenant).send(
      new GetCommand({ TableName: this.table, Key: { pk, sk }, ConsistentRead: true }),
    );
    return result.Item as Record<string, unknown> | undefined;
  }
}
