import { dedupeScope, type Visibility } from "../../domain/access.js";
import type { DocumentRecord, DocumentSource } from "../../domain/documents.js";
import type { TenantId } from "../../domain/tenant.js";
import type { DocumentCatalog, NewDocument, StatusPatch } from "../../ports/document-catalog.js";
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
  source: string;
  visibility: string | null;
  uploaded_by: string;
  created_at: string;
  updated_at: string;
}

function toRecord(row: Row): DocumentRecord {
  const source = JSON.parse(row.source) as DocumentSource;
  const record: DocumentRecord = {
    id: row.id,
    tenantId: row.tenant_id as TenantId,
    title: row.title,
    contentType: row.content_type,
    sizeBytes: row.size_bytes,
    sha256: row.sha256,
    status: row.status,
    pages: row.pages,
    chunks: row.chunks,
    source,
    visibility: row.visibility
      ? visibilitySchema.parse(JSON.parse(row.visibility))
      : legacyVisibility(source, row.uploaded_by),
    uploadedBy: row.uploaded_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  if (row.error_code) {
    record.error = {
      code: row.error_code as NonNullable<DocumentRecord["error"]>["code"],
      message: row.error_message ?? "",
    };
  }
  return record;
}

export class SqliteDocumentCatalog implements DocumentCatalog {
  constructor(private readonly dbs: TenantDatabases) {}

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
    return { document: toRecord(row), created: inserted.changes === 1 };
  }

  async get(tenant: TenantId, id: string): Promise<DocumentRecord | undefined> {
    const row = this.dbs
      .get(tenant)
      .prepare("SELECT * FROM documents WHERE tenant_id = ? AND id = ?")
      .get(tenant, id) as Row | undefined;
    return row ? toRecord(row) : undefined;
  }

  async findBySlackFile(tenant: TenantId, teamId: string, fileId: string): Promise<DocumentRecord | undefined> {
    const row = this.dbs
      .get(tenant)
      .prepare(
        "SELECT * FROM documents WHERE tenant_id = ? AND slack_team_id = ? AND slack_file_id = ? ORDER BY created_at DESC",
      )
      .get(tenant, teamId, fileId) as Row | undefined;
    return row ? toRecord(row) : undefined;
  }

  async list(tenant: TenantId): Promise<DocumentRecord[]> {
    const rows = this.dbs
      .get(tenant)
      .prepare("SELECT * FROM documents WHERE tenant_id = ? ORDER BY created_at DESC, id DESC")
      .all(tenant) as Row[];
    return rows.map(toRecord);
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
}
