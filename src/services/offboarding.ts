import type { Readable } from "node:stream";
import { z } from "zod";
import type { Actor } from "../domain/access.js";
import { AppError, isAppError } from "../domain/errors.js";
import type { Tenant, TenantId } from "../domain/tenant.js";
import type { AuditLog } from "../ports/audit-log.js";
import type { ChunkIndex } from "../ports/chunk-index.js";
import type { DocumentCatalog } from "../ports/document-catalog.js";
import type { IdentityProvider } from "../ports/identity-provider.js";
import type { Job, JobQueue } from "../ports/job-queue.js";
import type { Logger } from "../ports/logger.js";
import type { ObjectStore } from "../ports/object-store.js";
import type { TenantDirectory } from "../ports/tenant-directory.js";
import { requireAdmin } from "./access.js";
import { objectKey } from "./documents.js";
import { auditJson, documentJson, downloadName } from "./record-json.js";
import { type ArchiveEntry, tarGz } from "./tenant-archive.js";

export interface OffboardingPorts {
  identity: IdentityProvider;
  directory: TenantDirectory;
  catalog: DocumentCatalog;
  objects: ObjectStore;
  index: ChunkIndex;
  audit: AuditLog;
  queue: JobQueue;
  /** Embedded: removes the tenant's own folder (its SQLite file) once every store has removed its part. */
  destroyTenantData?: (tenant: TenantId) => void;
}

/** What an erasure removed, for the operator's summary and the log. */
export interface ErasureSummary {
  tenantId: TenantId;
  name: string;
  members: number;
  documents: number;
  workspaces: number;
}

export const EXPORT_FORMAT = "enclave-export/1";
const AUDIT_PAGE = 500;
const deletionPayload = z.object({ tenantId: z.string() });

const deletionJob = (tenantId: TenantId) => ({
  type: "delete_tenant" as const,
  tenantId,
  payload: { tenantId },
  idempotencyKey: `delete_tenant:${tenantId}`,
});

/**
 * Offboarding an organisation: exporting everything it holds (data portability) and erasing it from
 * every store (the right to erasure). Both are for the organisation's admins, or the operator's CLI.
 */
export class OffboardingService {
  constructor(
    private readonly ports: OffboardingPorts,
    private readonly logger: Logger,
  ) {}

  /**
   * The organisation as a .tar.gz: `organisation.json` (the organisation, members, workspace links and
   * Slack identity ties; no password, key or bot token), `documents.jsonl`, every original under
   * `files/`, and `audit.jsonl` (newest first, as the log lists). Streamed, one file at a time.
   */
  async exportArchive(actor: Actor): Promise<{ fileName: string; stream: Readable }> {
    requireAdmin(actor);
    const tenant = await this.tenant(actor.tenantId);
    const exportedAt = new Date();
    this.logger.info("tenant export started", { tenantId: tenant.id });
    return {
      fileName: `enclave-export-${exportedAt.toISOString().slice(0, 10)}.tar.gz`,
      stream: tarGz(this.entries(tenant, exportedAt)),
    };
  }

  private async *entries(tenant: Tenant, exportedAt: Date): AsyncGenerator<ArchiveEntry> {
    const { directory, catalog, objects, audit } = this.ports;
    const [members, links, documents] = await Promise.all([
      directory.listMembers(tenant.id),
      directory.listLinks(tenant.id),
      catalog.list(tenant.id),
    ]);
    const identities = (
      await Promise.all(members.map((m) => directory.listSlackIdentities(tenant.id, m.userId)))
    ).flat();
    const installations = await Promise.all(links.map((l) => directory.getInstallation(l.teamId)));
    const organisation = {
      format: EXPORT_FORMAT,
      exported_at: exportedAt.toISOString(),
      organisation: { id: tenant.id, name: tenant.name, created_at: tenant.createdAt },
      members: members.map((m) => ({ user_id: m.userId, email: m.email, role: m.role, created_at: m.createdAt })),
      workspace_links: links.map((l, i) => ({
        team_id: l.teamId,
        enterprise_id: l.enterpriseId ?? null,
        team_name: installations[i]?.teamName ?? null,
        linked_by: l.linkedBy,
        linked_at: l.linkedAt,
      })),
      slack_identities: identities.map((t) => ({
        user_id: t.userId,
        team_id: t.teamId,
        slack_user_id: t.slackUserId,
        linked_at: t.linkedAt,
      })),
      counts: { documents: documents.length },
    };
    yield { name: "organisation.json", data: `${JSON.stringify(organisation, null, 2)}\n`, mtime: exportedAt };

    const files = new Map<string, string>();
    for (const d of documents) files.set(d.id, `files/${d.id}/${archiveName(downloadName(d.title, d.contentType))}`);
    const lines = documents.map((d) => {
      const { can_read: _, ...json } = documentJson(d);
      return `${JSON.stringify({ ...json, sha256: d.sha256, file: files.get(d.id) })}\n`;
    });
    yield { name: "documents.jsonl", data: lines.join(""), mtime: exportedAt };

    for (const d of documents) {
      let data: Buffer;
      try {
        data = await objects.get(tenant.id, objectKey(d.id));
      } catch (error) {
        // A record whose upload never reached the store (it failed, or is being deleted): no file to give.
        if (isAppError(error) && error.code === "not_found") continue;
        throw error;
      }
      yield { name: files.get(d.id) ?? `files/${d.id}/original`, data, mtime: new Date(d.updatedAt) };
    }

    yield { name: "audit.jsonl", lines: this.auditLines(audit, tenant.id), mtime: exportedAt };
    this.logger.info("tenant export finished", { tenantId: tenant.id, documents: documents.length });
  }

  private async *auditLines(audit: AuditLog, tenant: TenantId): AsyncGenerator<string> {
    let cursor: string | undefined;
    do {
      const page = await audit.list(tenant, { limit: AUDIT_PAGE, ...(cursor ? { cursor } : {}) });
      for (const record of page.records) yield `${JSON.stringify(auditJson(record))}\n`;
      cursor = page.nextCursor;
    } while (cursor);
  }

  /**
   * An admin asks for the organisation to be deleted, typing its name to confirm. The tenant is marked
   * at once (sign-in and Slack stop serving it) and the erasure runs as a job. Once the mark is stored
   * the deletion will happen: a job that could not be queued now is queued by the recovery sweep.
   */
  async requestDeletion(actor: Actor, confirm: string): Promise<{ tenantId: TenantId; requestedAt: string }> {
    const tenant = await this.confirmed(actor, confirm);
    await this.ports.directory.markDeleting(tenant.id, new Date());
    const marked = await this.tenant(tenant.id);
    try {
      await this.ports.queue.enqueue(deletionJob(tenant.id), { revive: true });
    } catch (error) {
      this.logger.warn("the deletion job could not be queued; the recovery sweep queues it", {
        error,
        tenantId: tenant.id,
      });
    }
    this.logger.info("tenant deletion requested", { tenantId: tenant.id, by: actor.principal });
    return { tenantId: tenant.id, requestedAt: marked.deletingSince ?? new Date().toISOString() };
  }

  /** The operator's command line: the same confirmation, then the erasure in this process. */
  async deleteNow(actor: Actor, confirm: string): Promise<ErasureSummary> {
    const tenant = await this.confirmed(actor, confirm);
    await this.ports.directory.markDeleting(tenant.id, new Date());
    return this.erase(tenant.id);
  }

  private async confirmed(actor: Actor, confirm: string): Promise<Tenant> {
    requireAdmin(actor);
    const tenant = await this.tenant(actor.tenantId);
    if (confirm.trim() !== tenant.name.trim()) {
      throw new AppError(
        "validation_failed",
        "To delete the organisation, type its name exactly as it is shown (this cannot be undone).",
      );
    }
    return tenant;
  }

  async runDeletionJob(job: Job): Promise<void> {
    const { tenantId } = deletionPayload.parse(job.payload);
    if (tenantId !== job.tenantId) throw new AppError("bad_request", "deletion job for another tenant");
    await this.erase(job.tenantId);
  }

  /**
   * Removes everything of a tenant marked for deletion, store by store, each step safe to repeat:
   * the accounts (so nobody can sign in), the files, passages, document records and audit log, the
   * tenant's own folder (embedded), its jobs (this one's record among them), and last the directory's
   * rows: members, invites, workspace links, Slack installations and the tenant with its mark. Until
   * that last step the mark stays, so an erasure cut short is found and finished by the recovery sweep.
   */
  async erase(tenantId: TenantId): Promise<ErasureSummary> {
    const p = this.ports;
    const tenant = await p.directory.getTenant(tenantId);
    if (!tenant) {
      // Already erased. A sweep may have queued this run again while the last one finished: its record goes too.
      await p.queue.deleteTenant(tenantId);
      return { tenantId, name: "", members: 0, documents: 0, workspaces: 0 };
    }
    // Only a deletion someone confirmed: a job or sweep that names a live tenant erases nothing.
    if (!tenant.deletingSince) throw new AppError("conflict", "This organisation is not being deleted.");
    const log = this.logger.child({ tenantId });
    const [members, links, documents] = await Promise.all([
      p.directory.listMembers(tenantId),
      p.directory.listLinks(tenantId),
      p.catalog.list(tenantId),
    ]);
    for (const m of members) await p.identity.deleteUser(m.email);
    await p.objects.deleteTenant(tenantId);
    await p.index.deleteTenant(tenantId);
    await p.catalog.deleteTenant(tenantId);
    await p.audit.deleteTenant(tenantId);
    p.destroyTenantData?.(tenantId);
    await p.queue.deleteTenant(
      tenantId,
      links.map((l) => l.teamId),
    );
    await p.directory.deleteTenant(tenantId);
    const summary = {
      tenantId,
      name: tenant.name,
      members: members.length,
      documents: documents.length,
      workspaces: links.length,
    };
    log.info("tenant deleted", {
      members: summary.members,
      documents: summary.documents,
      workspaces: summary.workspaces,
    });
    return summary;
  }

  /**
   * The recovery sweep: every tenant still marked for deletion gets its erasure job again, unless one
   * is queued or running (a job that died, or whose record the erasure itself removed before failing).
   */
  async resumeDeletions(): Promise<number> {
    let queued = 0;
    for (const tenantId of await this.ports.directory.tenantsBeingDeleted()) {
      if (await this.ports.queue.enqueue(deletionJob(tenantId), { revive: true })) queued++;
    }
    if (queued > 0) this.logger.warn("deletions resumed", { tenants: queued });
    return queued;
  }

  private async tenant(id: TenantId): Promise<Tenant> {
    const tenant = await this.ports.directory.getTenant(id);
    if (!tenant) throw new AppError("not_found", "This organisation does not exist.");
    return tenant;
  }
}

/** A title as a file name inside the archive: no path separators or control characters. */
function archiveName(title: string): string {
  const clean = [...title.slice(0, 200)]
    .map((ch) => ((ch.codePointAt(0) ?? 0) < 0x20 || ch === "/" || ch === "\\" ? "_" : ch))
    .join("")
    .replace(/^\.+/, "_");
  return clean || "original";
}
