# syntax=docker/dockerfile:1
# Enclave, embedded shape: one Node process (web, REST API, Slack, job worker) on SQLite and files in /data.
#
#   docker build -t enclave .
#   docker run -p 3000:3000 -v enclave-data:/data enclave        (or: docker compose up)

ARG NODE_VERSION=22

# --- build: compile TypeScript, then keep only the production dependencies -------------------------
# Full Debian image: better-sqlite3 is native, and when no prebuilt binary fits, node-gyp needs the
# python3, make and g++ this image has. Same Debian release (bookworm, glibc) as the runtime below.
FROM node:${NODE_VERSION}-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/ scripts/
COPY src/ src/
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# --- runtime ----------------------------------------------------------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps \
    DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
# Owned by root: the server's user can read its code but not change it. Only /data is writable.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Created and chowned before VOLUME, so that a new named volume starts out owned by node.
RUN mkdir -p /data && chown node:node /data
VOLUME /data
USER node
EXPOSE 3000
# No curl in the slim image: Node's own fetch. /health is 503 when a backend check fails.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/health`, { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node itself as PID 1: the server handles SIGTERM (drains requests and jobs, closes SQLite).
CMD ["node", "dist/src/entrypoints/server.js"]
