# The web image: gunicorn, the Django worker and beat all run from it (compose.yaml).
# Not built on the machine this was written on (no Docker engine there); compose.yaml and this
# file are checked structurally by tests/config/test_compose.py.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings \
    VAR_DIR=/app/var \
    MEDIA_ROOT=/app/media \
    STATIC_ROOT=/app/staticfiles \
    PORT=8000

WORKDIR /app
# psycopg[binary] brings its own libpq: no compiler, no client packages.
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .
# Hashed, compressed static files, served by whitenoise. Settings need a key to load; this one
# exists only in this build step and signs nothing.
RUN DEBUG=0 SECRET_KEY=collectstatic-only-not-a-secret DATABASE_URL=sqlite:////tmp/collectstatic.sqlite3 \
    VAR_DIR=/tmp/collectstatic-var python manage.py collectstatic --noinput \
    && rm -rf /tmp/collectstatic-var /tmp/collectstatic.sqlite3

RUN useradd --system --uid 10001 --no-create-home --home-dir /app --shell /usr/sbin/nologin layerwise \
    && mkdir -p /app/var /app/media \
    && chown layerwise:layerwise /app/var /app/media
USER layerwise

EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status != 200)"]
CMD ["gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"]
