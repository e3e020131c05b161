# sms-gateway container image.
#
#   docker build -t sms-gateway .
#   docker run --init -p 3000:3000 --env-file .env sms-gateway            # gateway
#   (docker's --env-file takes values as written: no quotes, no comments after them; .env.example)
#   docker run --init -p 4010:4010 -e SIMULATOR_HOST=0.0.0.0 sms-gateway \
#     node dist/cli/simulator.js                                           # fake SerwerSMS API
#
# Both stages use the official node:20-bookworm-slim image. Without access to an
# image registry, scripts/offline-base-image.sh builds a local image with that
# exact name first (see deploy/README.md).
#
# Signals: the gateway handles SIGTERM itself (graceful close, exit 0), so it is
# safe as PID 1; `docker run --init` / compose `init: true` adds tini on top.

# ---- build: all dependencies, bundle the TypeScript into dist/ --------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/build.ts ./scripts/build.ts
COPY src ./src
RUN npm run build

# ---- deps: production dependencies only -------------------------------------
FROM node:20-bookworm-slim AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ---- runtime -----------------------------------------------------------------
FROM node:20-bookworm-slim AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="sms-gateway" \
      org.opencontainers.image.description="Self-hosted REST gateway in front of SerwerSMS.pl (gateway: node dist/server.js, simulator: node dist/cli/simulator.js)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="node:20-bookworm-slim"
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
# Application files stay owned by root: the unprivileged user can read, not change them.
COPY package.json package-lock.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# `node` (uid 1000) is the unprivileged user of the official node image.
USER node
EXPOSE 3000
STOPSIGNAL SIGTERM
# Probes the address the gateway listens on (HOST): loopback when it listens on every address,
# else HOST itself, since a gateway bound to ::1 or to one interface does not answer 127.0.0.1.
# http.get, not fetch: a URL cannot carry a link-local address's interface (fe80::1%eth0).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "const h = (process.env.HOST || '').trim(); const host = h === '' || h === '0.0.0.0' || h === '::' ? '127.0.0.1' : h; require('node:http').get({ host, port: process.env.PORT || 3000, path: '/healthz', timeout: 4000 }, (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on('timeout', () => process.exit(1)).on('error', () => process.exit(1))"]
CMD ["node", "dist/server.js"]
