import type { NextFunction, Request, RequestHandler, Response } from "express";
import { AppError } from "../domain/errors.js";
import type { Identity } from "../domain/tenant.js";
import type { Logger } from "../ports/logger.js";
import type { AccountService } from "../services/accounts.js";

/** Requires `Authorization: Bearer <id_token>`; puts the Identity on `res.locals.identity`. */
export function requireAuth(accounts: AccountService): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    const header = req.get("authorization") ?? "";
    const match = /^Bearer\s+([A-Za-z0-9_\-.=]+)$/i.exec(header.trim());
    if (!match?.[1]) {
      next(new AppError("unauthorized", "Log in first: this request needs a valid token."));
      return;
    }
    try {
      const identity = await accounts.authenticate(match[1]);
      res.locals.identity = identity;
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

export const identityOf = (res: Response): Identity => {
  const identity = res.locals.identity as Identity | undefined;
  if (!identity) throw new AppError("unauthorized", "Log in first: this request needs a valid token.");
  return identity;
};
