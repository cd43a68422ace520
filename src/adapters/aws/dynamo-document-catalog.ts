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
import type { Logger } from "../../ports/logger.js";
import {
  documentErrorCodeSchema,
  documentSourceSchema,
  documentStatusSchema,
  parseStored,
  StoredRecords,
  tenantIdSchema,
} from "../shared/stored-records.js";
import { legacyVisibility, visibilitySchema } from "../shared/stored-visibility.js";
import { guarded } from "./aws-errors.js";
import { conditional, isConditionFailure, queryAll, tenantPk } from "./dynamo.js";
import { deletePartition } from "./dynamo-batch.js";
import type { TenantClients } from "./tenant-credentials.js";

const WHAT = "The document catalogue";
const STORE = "document catalogue";

const itemSchema = z.object({
  sk: z.string(),
  tenantId: tenantIdSchema,
  title: z.string(),
  contentType: z.string(),
  sizeBytes: z.number(),
  sha256: z.string(),
  status: documentStatusSchema,
  errorCode: documentErrorCodeSchema.optional(),
  errorMessage: z.string().optional(),
  pages: z.number(),
  chunks: z.number(),
  progressDone: z.number().optional(),
  progressTotal: z.number().optional(),
  source: documentSourceSchema,
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

/** Every item has its key (DynamoDB refuses one without), so the key names a damaged item. */
const parseItem = (item: Record<string, unknown>): Item =>
  parseStored(itemSchema, item, { store: STORE, key: `${String(item.pk)}/${String(item.sk)}` });

function toRecord(item: Record<string, unknown>): DocumentRecord {
  return recordOf(parseItem(item));
}

function recordOf(i: Item): DocumentRecord {
  const record: DocumentRecord = {
    id: i.sk,
    tenantId: i.tenantId,
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
  if (i.status === "indexing" && i.progressDone !== undefined && i.progressTotal !== undefined)
    record.progress = { pagesDone: i.progressDone, pagesTotal: i.progressTotal };
  if (i.errorCode) record.error = { code: i.errorCode, message: i.errorMessage ?? "" };
  return record;
}

/** The sparse index of documents not settled yet (`queued`, `indexing`), by last change, across tenants. */
export const UNSETTLED_INDEX = "unsettled";
const UNSETTLED = "unsettled";
const UNSETTLED_VALUE = "1";

/**
 * Every partition kind this catalogue writes under a tenant (see the class comment); deleteTenant empties
 * each, so a new kind of item must be added here too.
 */
const PARTITIONS = ["doc", "hash", "slackfile"] as const;

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
  private readonly stored: StoredRecords;

  constructor(
    private readonly clients: TenantClients<DynamoDBDocumentClient>,
    private readonly table: string,
    logger?: Logger,
  ) {
    this.stored = new StoredRecords(logger);
  }

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
        [UNSETTLED]: UNSETTLED_VALUE,
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
      return this.stored
        .each(items, toRecord)
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
      // Only unsettled documents are in the sparse `unsettled` index the recovery sweep reads.
      if (patch.status === "queued" || patch.status === "indexing") {
        values[":unsettled"] = UNSETTLED_VALUE;
        sets.push(`${UNSETTLED} = :unsettled`);
      } else removes.push(UNSETTLED);
      // Progress belongs to one run of indexing: any other status clears it.
      if (patch.status === "indexing" && patch.progress) {
        values[":progressDone"] = patch.progress.pagesDone;
        values[":progressTotal"] = patch.progress.pagesTotal;
        sets.push("progressDone = :progressDone", "progressTotal = :progressTotal");
      } else if (patch.status !== "indexing") removes.push("progressDone", "progressTotal");
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
      const after = attributes;
      return after ? this.stored.one(() => toRecord(after)) : undefined;
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
      const old = result.Attributes;
      const item = this.stored.one(() => parseItem(old));
      const record = recordOf(item);
      await this.deleteMarker(tenant, "hash", hashSk(scopeOf(item), record.sha256), id);
      if (record.source.kind === "slack")
        await this.deleteMarker(tenant, "slackfile", slackSk(record.source.teamId, record.source.fileId), id);
      return true;
    });
  }

  async deleteTenant(tenant: TenantId): Promise<void> {
    await guarded(WHAT, async () => {
      // Records first, markers after: a marker left by an interrupted run names no record, which is how
      // an interrupted delete leaves one anyway, and the next run removes it.
      for (const kind of PARTITIONS) await deletePartition(this.db(tenant), this.table, tenantPk(tenant, kind));
    });
  }

  async unsettled(before: Date): Promise<DocumentRecord[]> {
    return guarded(WHAT, async () => {
      // Across tenants, so with the service's own client: the sweep only reads which records to look at.
      const items = await queryAll(this.clients.base, {
        TableName: this.table,
        IndexName: UNSETTLED_INDEX,
        KeyConditionExpression: `${UNSETTLED} = :u AND updatedAt < :before`,
        ExpressionAttributeValues: { ":u": UNSETTLED_VALUE, ":before": before.toISOString() },
      });
      return this.stored.each(items, toRecord);
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
        const after = result.Attributes;
        return after ? this.stored.one(() => toRecord(after)) : undefined;
      } catch (error) {
        if (isConditionFailure(error)) return undefined;
        throw error;
      }
    });
  }

  private async getParsed(tenant: TenantId, id: string): Promise<Item | undefined> {
    const item = await this.getItem(tenant, tenantPk(tenant, "doc"), id);
    return item ? this.stored.one(() => parseItem(item)) : undefined;
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
