import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { type AuditRecord, newAuditId } from "../../domain/audit.js";
import type { TenantId } from "../../domain/tenant.js";
import type { AuditLog, AuditQuery } from "../../ports/audit-log.js";
import type { Logger } from "../../ports/logger.js";
import {
  auditRecordSchema,
  damaged,
  feedbackSchema,
  jsonText,
  parseStored,
  StoredRecords,
} from "../shared/stored-records.js";
import { guarded } from "./aws-errors.js";
import { conditional, epochSeconds, tenantPk } from "./dynamo.js";
import { deletePartition } from "./dynamo-batch.js";
import type { TenantClients } from "./tenant-credentials.js";

const WHAT = "The audit log";
const STORE = "audit log";
const itemSchema = z.object({
  sk: z.string(),
  record: jsonText(auditRecordSchema),
  feedback: feedbackSchema.optional(),
});

/** The stored record, checked, and filed under the tenant whose partition holds it. */
function toRecord(tenant: TenantId, item: Record<string, unknown>): AuditRecord {
  const at = { store: STORE, key: `${tenantPk(tenant, "audit")}/${String(item.sk)}` };
  const i = parseStored(itemSchema, item, at);
  if (i.record.tenantId !== tenant) throw damaged(at, "record.tenantId: not the tenant it is filed under");
  if (i.record.id !== i.sk) throw damaged(at, "record.id: not the id it is filed under");
  return i.feedback ? { ...i.record, feedback: i.feedback } : i.record;
}

export interface DynamoAuditLogOptions {
  /** Items expire (DynamoDB TTL on `expires_at`) this many days after the exchange; 0 keeps them. */
  retentionDays: number;
  /** Items read per query page while filling a filtered page. */
  pageSize?: number;
}

/**
 * The audit log in DynamoDB: partition `<tenant>#audit`, sort key the record id (time-ordered, see
 * newAuditId), so a descending query is newest first and the cursor is the last id returned. The record
 * itself is stored as JSON text (exact round trip); feedback is a separate attribute that an update sets.
 */
export class DynamoAuditLog implements AuditLog {
  private readonly stored: StoredRecords;

  constructor(
    private readonly clients: TenantClients<DynamoDBDocumentClient>,
    private readonly table: string,
    private readonly options: DynamoAuditLogOptions,
    logger?: Logger,
  ) {
    this.stored = new StoredRecords(logger);
  }

  async append(record: AuditRecord): Promise<void> {
    const { feedback, ...rest } = record;
    const item: Record<string, unknown> = {
      pk: tenantPk(record.tenantId, "audit"),
      sk: record.id,
      createdAt: record.createdAt,
      userId: record.actor.userId,
      surface: record.surface,
      outcome: record.outcome,
      record: JSON.stringify(rest),
      ...(feedback ? { feedback } : {}),
    };
    if (this.options.retentionDays > 0) {
      item.expires_at = epochSeconds(Date.parse(record.createdAt) + this.options.retentionDays * 86_400_000);
    }
    await guarded(WHAT, () =>
      this.clients.forTenant(record.tenantId).send(new PutCommand({ TableName: this.table, Item: item })),
    );
  }

  async list(tenant: TenantId, query: AuditQuery): Promise<{ records: AuditRecord[]; nextCursor?: string }> {
    return guarded(WHAT, async () => {
      const names: Record<string, string> = {};
      const values: Record<string, unknown> = { ":pk": tenantPk(tenant, "audit") };
      const filters: string[] = [];
      if (query.cursor) values[":cursor"] = query.cursor;
      const conditions = [
        ["#surface = :surface", "#surface", "surface", ":surface", query.surface],
        ["#userId = :userId", "#userId", "userId", ":userId", query.userId],
        ["#createdAt >= :from", "#createdAt", "createdAt", ":from", query.from],
        ["#createdAt <= :to", "#createdAt", "createdAt", ":to", query.to],
      ] as const;
      for (const [expression, name, attribute, placeholder, value] of conditions) {
        if (!value) continue;
        names[name] = attribute;
        values[placeholder] = value;
        filters.push(expression);
      }
      const want = query.limit + 1;
      const items: Record<string, unknown>[] = [];
      let start: Record<string, unknown> | undefined;
      // A filter applies after DynamoDB's Limit, so keep reading pages until the page is full.
      do {
        const page = await this.clients.forTenant(tenant).send(
          new QueryCommand({
            TableName: this.table,
            KeyConditionExpression: query.cursor ? "pk = :pk AND sk < :cursor" : "pk = :pk",
            ...(filters.length ? { FilterExpression: filters.join(" AND ") } : {}),
            ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
            ExpressionAttributeValues: values,
            ScanIndexForward: false,
            Limit: Math.max(want, this.options.pageSize ?? 100),
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        );
        items.push(...((page.Items ?? []) as Record<string, unknown>[]));
        start = page.LastEvaluatedKey as Record<string, unknown> | undefined;
      } while (start && items.length < want);
      const page = items.slice(0, query.limit);
      const records = this.stored.each(page, (item) => toRecord(tenant, item));
      // The cursor is the last item read, damaged or not, so a damaged item never ends or repeats a page.
      const last = page.at(-1);
      return items.length > query.limit && last ? { records, nextCursor: String(last.sk) } : { records };
    });
  }

  async get(tenant: TenantId, id: string): Promise<AuditRecord | undefined> {
    return guarded(WHAT, async () => {
      const result = await this.clients.forTenant(tenant).send(
        new GetCommand({
          TableName: this.table,
          Key: { pk: tenantPk(tenant, "audit"), sk: id },
          ConsistentRead: true,
        }),
      );
      const item = result.Item;
      return item ? this.stored.one(() => toRecord(tenant, item)) : undefined;
    });
  }

  async deleteBefore(tenant: TenantId, before: Date): Promise<number> {
    // TTL (`expires_at`) does the routine expiry, but lazily (DynamoDB may take days past the time); this
    // removes them now. Ids are time-ordered (newAuditId: base-36 milliseconds first), so the key condition
    // reads only exchanges older than `before`; the filter on `createdAt` keeps any whose id and time disagree.
    return guarded(WHAT, () =>
      deletePartition(this.clients.forTenant(tenant), this.table, tenantPk(tenant, "audit"), {
        skBelow: newAuditId(new Date(Math.max(0, before.getTime())), ""),
        filter: "#createdAt < :before",
        names: { "#createdAt": "createdAt" },
        values: { ":before": before.toISOString() },
      }),
    );
  }

  async deleteTenant(tenant: TenantId): Promise<void> {
    await guarded(WHAT, () => deletePartition(this.clients.forTenant(tenant), this.table, tenantPk(tenant, "audit")));
  }

  async setFeedback(tenant: TenantId, id: string, feedback: NonNullable<AuditRecord["feedback"]>): Promise<boolean> {
    return guarded(WHAT, () =>
      conditional(() =>
        this.clients.forTenant(tenant).send(
          new UpdateCommand({
            TableName: this.table,
            Key: { pk: tenantPk(tenant, "audit"), sk: id },
            UpdateExpression: "SET feedback = :feedback",
            ConditionExpression: "attribute_exists(pk)",
            ExpressionAttributeValues: { ":feedback": feedback },
          }),
        ),
      ),
    );
  }
}
