# syntax=docker/dockerfile:1
# Tiercel's container image: docker build -t tiercel .
# Checked by test/deployment/dockerfile.spec.ts, which also runs this file's npm and node steps
# outside Docker (build stage and runtime stage in temporary directories) and starts the result.

# ---- build: every dependency, then the TypeScript build -------------------------------------
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the only install script in the tree is the `node` devDependency's, which
# fetches a second Node binary; the image's own node builds and runs Tiercel.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
# Not `npx tsc`: that would put node_modules/.bin (and its `node`) first on PATH.
RUN node node_modules/typescript/bin/tsc -p tsconfig.json

# ---- runtime: production dependencies and the compiled code, as a non-root user -------------
FROM node:24-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production \
    PROXY_HOST=0.0.0.0 \
    ADMIN_HOST=0.0.0.0
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
COPY docs/runbook.md ./docs/runbook.md
# The status page's HTML, CSS and JavaScript, served on the admin port at / as they are.
COPY src/admin/status-page ./src/admin/status-page
USER node
EXPOSE 8080 9464
# Liveness on the admin port; exec form, so ADMIN_PORT comes from the container's environment.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.ADMIN_PORT||9464)+'/healthz',{signal:AbortSignal.timeout(2000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# tini is PID 1: it forwards SIGTERM to node (graceful drain within SHUTDOWN_TIMEOUT) and reaps zombies.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/src/main.js"]
