# The web image: gunicorn, the Django worker and beat all run from it (compose.yaml).
#
# BASE is any Debian-family image: with registry access the default; without it, a Debian base
# made from packages (bin/compose-check makes localhost/debian:trixie with mmdebstrap and builds
# this file with --build-arg BASE=localhost/debian:trixie). Django 6 needs Python 3.12 or later:
# python:3.12-slim brings it, Debian 13 (trixie) has 3.13 as its python3.
ARG BASE=python:3.12-slim
FROM ${BASE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings \
    VAR_DIR=/app/var \
    MEDIA_ROOT=/app/media \
    STATIC_ROOT=/app/staticfiles \
    PORT=8000 \
    PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# A virtual environment on either base; a bare Debian base gets its python3 first. The version
# check fails the build early on a base whose Python is too old for Django 6.
RUN if ! command -v python3 >/dev/null; then \
        apt-get update \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && python3 -c 'import sys; assert sys.version_info >= (3, 12), "Django 6 needs Python 3.12+, this base has " + sys.version' \
    && python3 -m venv /opt/venv

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
