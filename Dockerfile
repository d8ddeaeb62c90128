# One generic serving image: the model version is configuration (MODEL_NAME,
# MODEL_VERSION, MODEL_DIR), never baked in. docs/deployment.md.
# It runs the compiled JavaScript (dist/) with plain node: no TypeScript, tsx or dev dependency in the image.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY consumers ./consumers
COPY producers ./producers
RUN npm run build && rm dist/.tsbuildinfo

FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    SERVING_HOST=0.0.0.0 \
    SERVING_PORT=8080 \
    MODEL_DIR=/models
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# package.json says "type": "module" for dist/; schemas/ is read at run time (src/runtime.ts PACKAGE_ROOT).
COPY package.json ./
COPY schemas ./schemas
# Model artifacts are mounted (or synced) into /models: data, checked by digest at load.
RUN mkdir -p /models && chown node:node /models
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.SERVING_PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# SERVING_API_KEY must be provided at run time (0.0.0.0 is beyond loopback; the server refuses to start without it).
CMD ["node", "dist/src/serving/main.js"]
