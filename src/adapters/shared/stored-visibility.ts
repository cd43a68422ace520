import { z } from "zod";
import type { Visibility } from "../../domain/access.js";
import type { DocumentSource } from "../../domain/documents.js";

/** A visibility read back from storage (stored JSON is validated like any other inbound payload). */
export const visibilitySchema: z.ZodType<Visibility> = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("organisation") }),
  z.object({ kind: z.literal("private"), owner: z.string().min(1) }),
  z.object({
    kind: z.literal("slack_conversation"),
    conversations: z.array(z.object({ teamId: z.string(), channelId: z.string(), public: z.boolean() })),
  }),
]);

/**
 * The visibility of a document stored before documents had one. Uploads and CLI imports were meant for
 * the organisation. A Slack file is taken as shared in a private conversation (we never recorded whether
 * the channel was public, so the narrower reading wins), or, without a channel, as its uploader's own.
 * The SQLite migration in tenant-databases.ts applies the same rule in SQL: keep the two in step.
 */
export function legacyVisibility(source: DocumentSource, uploadedBy: string): Visibility {
  if (source.kind !== "slack") return { kind: "organisation" };
  if (source.channelId)
    return {
      kind: "slack_conversation",
      conversations: [{ teamId: source.teamId, channelId: source.channelId, public: false }],
    };
  return { kind: "private", owner: uploadedBy };
}
