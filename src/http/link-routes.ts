import { Router } from "express";
import { z } from "zod";
import type { WorkspaceLink } from "../ports/tenant-directory.js";
import type { Services } from "../services/services.js";
import { actorOf, requireAuth } from "./auth.js";
import { parseBody } from "./validate.js";

const tokenBody = z.object({ token: z.string().trim().min(1).max(2000) });

const linkJson = (l: WorkspaceLink) => ({
  team_id: l.teamId,
  enterprise_id: l.enterpriseId ?? null,
  tenant_id: l.tenantId,
  linked_by: l.linkedBy,
  linked_at: l.linkedAt,
});

/**
 * `/api/links`: Slack workspace links. The link page (GET /link) previews a one-time token without
 * logging in, then completes the link with the admin's Bearer token. The tenant always comes from that
 * token, never from the link token or the body.
 */
export function linkRoutes({ links, accounts, access }: Pick<Services, "links" | "accounts" | "access">): Router {
  const router = Router();

  router.post("/preview", async (req, res) => {
    const { token } = parseBody(tokenBody, req.body);
    const { claims, alreadyLinked } = await links.preview(token);
    res.json({
      purpose: claims.purpose ?? "workspace",
      team_id: claims.team_id,
      ...(claims.team_name ? { team_name: claims.team_name } : {}),
      ...(claims.enterprise_id ? { enterprise_id: claims.enterprise_id } : {}),
      slack_user_id: claims.slack_user_id,
      expires_at: new Date(claims.exp * 1000).toISOString(),
      already_linked: alreadyLinked,
    });
  });

  router.use(requireAuth(accounts, access));

  router.post("/", async (req, res) => {
    const { token } = parseBody(tokenBody, req.body);
    const link = await links.link(actorOf(res), token);
    res.status(201).json({ team_id: link.teamId, tenant_id: link.tenantId, enterprise_id: link.enterpriseId ?? null });
  });

  router.get("/", async (_req, res) => {
    const linked = await links.list(actorOf(res));
    res.json({ links: linked.map(linkJson) });
  });

  router.delete("/:team_id", async (req, res) => {
    await links.unlink(actorOf(res), req.params.team_id ?? "");
    res.status(204).end();
  });

  return router;
}
