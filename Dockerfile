# One image for both floatip processes:
#   webhook:    node dist/webhook/main.js --self-signed-tls ...
#   reconciler: node dist/reconciler/main.js ...
# Build: docker build -t floatip:0.1.0 .
ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: compile TypeScript to dist/ (tests and test fixtures left out) ----
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts: the node@24 devDependency would download a second Node; the image has one.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY shared ./shared
COPY webhook ./webhook
COPY reconciler ./reconciler
RUN printf '%s' '{"extends":"./tsconfig.json","compilerOptions":{"sourceMap":false},"include":["shared","webhook","reconciler"],"exclude":["**/*.test.ts","**/*-fixture.ts","**/fixtures/**","**/fake-*.ts"]}' > tsconfig.image.json \
 && node node_modules/typescript/bin/tsc -p tsconfig.image.json

# ---- runtime dependencies only ----
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# ---- runtime: non-root, nothing writable needed (readOnlyRootFilesystem in the manifests) ----
FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
# numeric, so Kubernetes can verify runAsNonRoot
USER 65532:65532
EXPOSE 8443
CMD ["node", "dist/webhook/main.js", "--help"]
