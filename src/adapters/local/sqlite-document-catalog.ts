import { z } from "zod";
import { dedupeScope, type Visibility } from "../../domain/access.js";
import type { DocumentRecord } from "../../domain/documents.js";
import type { TenantId } from "../../domain/tenant.js";
import type { DocumentCatalog, NewDocument, StatusPatch } from "../../ports/document-catalog.js";
import type { Logger } from "../../ports/logger.js";
import {
  documentErrorCodeSchema,
  documentSourceSchema,
  documentStatusSchema,
  jsonText,
  parseStored,
  StoredRecords,
  tenantIdSchema,
} from "../shared/stored-records.js";
import { legacyVisibility, visibilitySchema } from "../shared/stored-visibility.js";
import { nowIso } from "./sqlite.js";
import type { TenantDatabases } from "./tenant-databases.js";

interface Row {
  id: string;
  tenant_id: string;
  title: string;
  content_type: string;
  size_bytes: number;
  sha256: string;
  status: DocumentRecord["status"];
  error_code: string | null;
  error_message: string | null;
  pages: number;
  chunks: number;
  progress_done: number | null;
  progress_total: number | null;
  source: string;
  visibility: string | null;
  uploaded_by: string;
  created_at: string;
  updated_at: string;
}

const STORE = "document catalogue";

/** A row as read back, every column checked: SQLite stores whatever it is given. */
const rowSchema = z.object({
  id: z.string(),
  tenant_id: tenantIdSchema,
  title: z.string(),
  content_type: z.string(),
  size_bytes: z.number(),
  sha256: z.string(),
  status: documentStatusSchema,
  error_code: documentErrorCodeSchema.nullable(),
  error_message: z.string().nullable(),
  pages: z.number(),
  chunks: z.number(),
  progress_done: z.number().nullish(),
  progress_total: z.number().nullish(),
  source: jsonText(documentSourceSchema),
  visibility: jsonText(visibilitySchema).nullable(),
  uploaded_by: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
});

function toRecord(row: Row): DocumentRecord {
  const r = parseStored(rowSchema, row, { store: STORE, key: `${String(row.tenant_id)}/${String(row.id)}` });
  const record: DocumentRecord = {
    id: r.id,
    tenantId: r.tenant_id,
    title: r.title,
    contentType: r.content_type,
    sizeBytes: r.size_bytes,
    sha256: r.sha256,
    status: r.status,
    pages: r.pages,
    chunks: r.chunks,
    source: r.source,
    visibility: r.visibility ?? legacyVisibility(r.source, r.uploaded_by),
    uploadedBy: r.uploaded_by,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
  if (r.status === "indexing" && r.progress_total != null && r.progress_done != null) {
    record.progress = { pagesDone: r.progress_done, pagesTotal: r.progress_total };
  }
  if (r.error_code) record.error = { code: r.error_code, message: r.error_message ?? "" };
  return record;
}

export class SqliteDocumentCatalog implements DocumentCatalog {
  private readonly stored: StoredRecords;

  constructor(
    private readonly dbs: TenantDatabases,
    logger?: Logger,
  ) {
    this.stored = new StoredRecords(logger);
  }

  async create(tenant: TenantId, doc: NewDocument): Promise<{ document: DocumentRecord; created: boolean }> {
    const db = this.dbs.get(tenant);
    const now = nowIso();
    const slack = doc.source.kind === "slack" ? doc.source : undefined;
    const scope = dedupeScope(doc.visibility);
    const inserted = db
      .prepare(
        `INSERT INTO documents (id, tenant_id, title, content_type, size_bytes, sha256, status, source,
           slack_team_id, slack_file_id, visibility, scope, uploaded_by, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (tenant_id, scope, sha256) DO NOTHING`,
      )
      .run(
        doc.id,
        tenant,
        doc.title,
        doc.contentType,
        doc.sizeBytes,
        doc.sha256,
        JSON.stringify(doc.source),
        slack?.teamId ?? null,
        slack?.fileId ?? null,
        JSON.stringify(doc.visibility),
        scope,
        doc.uploadedBy,
        now,
        now,
      );
    const row = db
      .prepare("SELECT * FROM documents WHERE tenant_id = ? AND scope = ? AND sha256 = ?")
      .get(tenant, scope, doc.sha256) as Row;
    return { document: this.stored.one(() => toRecord(row)), created: inserted.changes === 1 };
  }

  async get(tenant: TenantId, id: string): Promise<DocumentRecord | undefined> {
    const row = this.dbs
      .get(tenant)
      .prepare("SELECT * FROM documents WHERE tenant_id = ? AND id = ?")
      .get(tenant, id) as Row | undefined;
    return row ? this.stored.one(() => toRecord(row)) : undefined;
  }

  async findBySlackFile(tenant: TenantId, teamId: string, fileId: string): Promise<DocumentRecord | undefined> {
    const row = this.dbs
      .get(tenant)
      .prepare(
        "SELECT * FROM documents WHERE tenant_id = ? AND slack_team_id = ? AND slack_file_id = ? ORDER BY created_at DESC",
      )
      .get(tenant, teamId, fileId) as Row | undefined;
    return row ? this.stored.one(() => toRecord(row)) : undefined;
  }

  async list(tenant: TenantId): Promise<DocumentRecord[]> {
    const rows = this.dbs
      .get(tenant)
      .prepare("SELECT * FROM documents WHERE tenant_id = ? ORDER BY created_at DESC, id DESC")
      .all(tenant) as Row[];
    return this.stored.each(rows, toRecord);
  }

  async update(tenant: TenantId, id: string, patch: StatusPatch): Promise<DocumentRecord | undefined> {
    const db = this.dbs.get(tenant);
    const sets = ["status = @status", "updated_at = @updated_at"];
    const params: Record<string, unknown> = { status: patch.status, updated_at: nowIso(), tenant, id };
    for (const [column, value] of [
      ["pages", patch.pages],
      ["chunks", patch.chunks],
      ["title", patch.title],
      ["sha256", patch.sha256],
      ["size_bytes", patch.sizeBytes],
    ] as const) {
      if (value !== undefined) {
        sets.push(`${column} = @${column}`);
        params[column] = value;
      }
    }
    // Progress belongs to one run of indexing: any other status clears it.
    const progress = patch.status === "indexing" ? patch.progress : undefined;
    if (progress || patch.status !== "indexing") {
      sets.push("progress_done = @progress_done", "progress_total = @progress_total");
      params.progress_done = progress?.pagesDone ?? null;
      params.progress_total = progress?.pagesTotal ?? null;
    }
    if (patch.error !== undefined) {
      sets.push("error_code = @error_code", "error_message = @error_message");
      params.error_code = patch.error?.code ?? null;
      params.error_message = patch.error?.message ?? null;
    }
    db.prepare(`UPDATE documents SET ${sets.join(", ")} WHERE tenant_id = @tenant AND id = @id`).run(params);
    return this.get(tenant, id);
  }

  async setVisibility(tenant: TenantId, id: string, visibility: Visibility): Promise<DocumentRecord | undefined> {
    this.dbs
      .get(tenant)
      .prepare("UPDATE documents SET visibility = ?, updated_at = ? WHERE tenant_id = ? AND id = ?")
      .run(JSON.stringify(visibility), nowIso(), tenant, id);
    return this.get(tenant, id);
  }

  async delete(tenant: TenantId, id: string): Promise<boolean> {
    return (
      this.dbs.get(tenant).prepare("DELETE FROM documents WHERE tenant_id = ? AND id = ?").run(tenant, id).changes > 0
    );
  }

  async deleteTenant(tenant: TenantId): Promise<void> {
    if (!this.dbs.has(tenant)) return;
    this.dbs.get(tenant).prepare("DELETE FROM documents WHERE tenant_id = ?").run(tenant);
  }

  async unsettled(before: Date): Promise<DocumentRecord[]> {
    const out: DocumentRecord[] = [];
    for (const tenant of this.dbs.tenants()) {
      const rows = this.dbs
        .get(tenant)
        .prepare(
          "SELECT * FROM documents WHERE status IN ('queued', 'indexing') AND updated_at < ? AND tenant_id = ? ORDER BY updated_at",
        )
        .all(before.toISOString(), tenant) as Row[];
      out.push(...this.stored.each(rows, toRecord));
    }
    return out;
  }
}
