# syntax=docker/dockerfile:1
# Two images from one file, used by docker-compose.yml:
#   target `app` (the default, last stage): the recodb CLI, migrations, sql/ and the HTTP app
#   target `web`: the Next.js example (examples/nextjs) as a standalone Node server
# Built with uv from uv.lock; nothing is resolved at build time that the lock doesn't pin.

# --- Python: dependencies, then the project, into /app/.venv ----------------------------
FROM python:3.11-slim AS app-build
COPY --from=ghcr.io/astral-sh/uv:0.13 /uv /bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
# Dependencies first: this layer is rebuilt only when the lock changes.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-dev --no-install-project
# The project itself, installed editable: recodb finds alembic.ini, migrations/ and sql/
# beside its package in /app.
COPY pyproject.toml uv.lock README.md alembic.ini ./
COPY recodb ./recodb
COPY api ./api
COPY migrations ./migrations
COPY sql ./sql
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev

# --- Node: the example's locked dependencies, then `next build` (output: standalone) -------
FROM node:20-slim AS web-build
ENV NEXT_TELEMETRY_DISABLED=1
WORKDIR /web
COPY examples/nextjs/package.json examples/nextjs/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY examples/nextjs ./
RUN npx next build

# --- web: only the standalone server and its static files ----------------------------------
FROM node:20-slim AS web
ENV NODE_ENV=production NEXT_TELEMETRY_DISABLED=1 PORT=3000 HOSTNAME=0.0.0.0
WORKDIR /web
COPY --from=web-build --chown=node:node /web/.next/standalone ./
COPY --from=web-build --chown=node:node /web/.next/static ./.next/static
USER node
EXPOSE 3000
CMD ["node", "server.js"]

# --- app: the venv and the sources, no uv, no build cache, an unprivileged user ------------
FROM python:3.11-slim AS app
RUN useradd --system --create-home --home-dir /home/recodb recodb
WORKDIR /app
COPY --from=app-build --chown=recodb:recodb /app /app
ENV PATH="/app/.venv/bin:$PATH" PYTHONUNBUFFERED=1 RECODB_HOME=/home/recodb/.recodb
USER recodb
EXPOSE 8000
CMD ["recodb", "--help"]
