# One image for all three floatip processes:
#   webhook:    node dist/webhook/main.js --self-signed-tls ...
#   reconciler: node dist/reconciler/main.js ...
#   agent:      node dist/agent/main.js --node-name NAME --metadata-url URL
# Build: docker build -t floatip:0.1.0 .
# The runtime stage is a plain Debian with exactly the node binary, dist/ and the production
# node_modules: no npm, npx, corepack or yarn, no TypeScript, no tests.
ARG NODE_IMAGE=node:24-bookworm-slim
# the Debian release NODE_IMAGE is built on, so the node binary finds the libraries it was linked against
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---- build: compile TypeScript to dist/ (the entry points and what they import) ----
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts: the node@24 devDependency would download a second Node; the image has one.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY shared ./shared
COPY webhook ./webhook
COPY reconciler ./reconciler
COPY agent ./agent
# Only what the three entry points import is compiled: tests and test support live apart
# (product code may not import test/, a lint rule), so no file-name globs are needed.
RUN printf '%s' '{"extends":"./tsconfig.json","compilerOptions":{"sourceMap":false},"include":[],"files":["webhook/main.ts","reconciler/main.ts","agent/main.ts"]}' > tsconfig.image.json \
 && node node_modules/typescript/bin/tsc -p tsconfig.image.json

# ---- runtime dependencies only ----
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# ---- runtime: non-root, nothing writable needed (readOnlyRootFilesystem in the chart) ----
FROM ${RUNTIME_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
# Node's official Linux build needs only glibc, libstdc++ and libgcc_s, which the slim image
# has; its TLS roots are compiled in, so no ca-certificates package either.
COPY --from=build /usr/local/bin/node /usr/local/bin/node
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# "type": "module": dist/ is ES modules
COPY package.json ./
# numeric, so Kubernetes can verify runAsNonRoot
USER 65532:65532
EXPOSE 8443
CMD ["node", "dist/webhook/main.js", "--help"]
