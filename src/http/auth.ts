import type { NextFunction, Request, RequestHandler, Response } from "express";
import type { Actor } from "../domain/access.js";
import { AppError } from "../domain/errors.js";
import type { Logger } from "../ports/logger.js";
import type { AccessService } from "../services/access.js";
import type { AccountService } from "../services/accounts.js";

/** Requires `Authorization: Bearer <id_token>`; puts the acting member on `res.locals.actor`. */
export function requireAuth(accounts: AccountService, access: AccessService): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    const header = req.get("authorization") ?? "";
    const match = /^Bearer\s+([A-Za-z0-9_\-.=]+)$/i.exec(header.trim());
    if (!match?.[1]) {
      next(new AppError("unauthorized", "Log in first: this request needs a valid token."));
      return;
    }
    try {
      const identity = await accounts.authenticate(match[1]);
      res.locals.actor = await access.webActor(identity, "api");
      res.locals.logger = (res.locals.logger as Logger).child({
        tenantId: identity.tenantId,
        userId: identity.userId,
      });
      next();
    } catch (error) {
      next(error);
    }
  };
}

export const actorOf = (res: Response): Actor => {
  const actor = res.locals.actor as Actor | undefined;
  if (!actor) throw new AppError("unauthorized", "Log in first: this request needs a valid token.");
  return actor;
};
