import { Router } from "express";
import { z } from "zod";
import type { AccountService } from "../services/accounts.js";
import { parseBody } from "./validate.js";

const email = z.email().max(254);
// Cognito's default policy is the floor: 8+ characters with upper, lower and a digit.
const password = z
  .string()
  .min(8, "use at least 8 characters")
  .max(256)
  .regex(/[a-z]/, "add a lower-case letter")
  .regex(/[A-Z]/, "add an upper-case letter")
  .regex(/[0-9]/, "add a digit");

const signupBody = z.union([
  z.object({ email, password, invite_code: z.string().min(1).max(200) }),
  z.object({ email, password, organization: z.string().trim().min(1).max(120) }),
]);
const loginBody = z.object({ email: z.string().max(254), password: z.string().max(256) });
const confirmBody = z.object({ email, code: z.string().min(1).max(20) });

/** `/auth/*`: sign-up, confirmation and log-in. Attempts are limited per client address and account. */
export function authRoutes(accounts: AccountService): Router {
  const router = Router();

  router.post("/signup", async (req, res) => {
    const body = parseBody(signupBody, req.body);
    const result = await accounts.signUp(
      {
        email: body.email,
        password: body.password,
        ...("invite_code" in body ? { inviteCode: body.invite_code } : { organization: body.organization }),
      },
      req.ip,
    );
    res.status(201).json({
      user: { email: result.user.email, tenant_id: result.user.tenantId, role: result.user.role },
      tenant: { id: result.tenant.id, name: result.tenant.name },
      ...(result.user.confirmed ? {} : { confirmation_required: true }),
    });
  });

  router.post("/confirm", async (req, res) => {
    const body = parseBody(confirmBody, req.body);
    await accounts.confirm(body.email, body.code);
    res.status(204).end();
  });

  router.post("/login", async (req, res) => {
    const body = parseBody(loginBody, req.body);
    const session = await accounts.logIn(body.email, body.password, req.ip);
    res.json({ id_token: session.idToken, expires_in: session.expiresIn, tenant_id: session.tenantId });
  });

  return router;
}
