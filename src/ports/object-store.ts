import type { TenantId } from "../domain/tenant.js";

/** Raw files, always addressed by (tenant, key). Keys are relative and never contain "..". */
export interface ObjectStore {
  put(tenant: TenantId, key: string, data: Uint8Array, contentType?: string): Promise<void>;
  /** Throws AppError `not_found` when absent. */
  get(tenant: TenantId, key: string): Promise<Buffer>;
  /** Deleting a missing key is not an error. */
  delete(tenant: TenantId, key: string): Promise<void>;
  /** Removes every object of the tenant (the tenant is being deleted). Nothing to remove is not an error. */
  deleteTenant(tenant: TenantId): Promise<void>;
}
